"""What reading back stored data costs the service: response bytes, time and the rise of
the service's peak memory (VmHWM, reset through /proc/PID/clear_refs before each read),
for data every tenant may store at the caps: 1,000 devices with labels and metadata at
their limits, 10,000 points of 64 KiB strings on one sensor and 901 string sensors.

    python3 bench/read_bounds.py BASE ISSUER_REALM_URL SERVICE_PID

Run by scripts/bench-reads.sh, which starts the service and its database."""
import concurrent.futures
import datetime
import http.client
import json
import sys
import time
import urllib.parse
import urllib.request

base, issuer, pid = sys.argv[1], sys.argv[2], int(sys.argv[3])
url = urllib.parse.urlsplit(base)


def token(roles, tenant=None):
    query = f"/token?roles={roles}&ttl=7200" + (f"&tenant={tenant}" if tenant else "")
    return json.load(urllib.request.urlopen(issuer + query))["access_token"]


def call(method, path, bearer, body=None):
    """(status, body bytes) over a fresh connection."""
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=600)
    headers = {"Authorization": f"Bearer {bearer}"}
    data = None
    if body is not None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    connection.request(method, path, body=data, headers=headers)
    response = connection.getresponse()
    payload = response.read()
    connection.close()
    return response.status, payload


def memory(field):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) // 1024
    return 0


def measure(what, path, bearer, clients=1):
    with open(f"/proc/{pid}/clear_refs", "w") as refs:
        refs.write("5")  # peak RSS starts again from the current RSS
    before = memory("VmRSS")
    started = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(clients) as pool:
        results = list(pool.map(lambda _: call("GET", path, bearer), range(clients)))
    elapsed = time.monotonic() - started
    status, body = results[0]
    items = ""
    try:
        document = json.loads(body)
        for key in ("items", "points", "sensors", "buckets"):
            if key in document:
                items = f"{len(document[key])} {key}, next_cursor {'yes' if document.get('next_cursor') else 'no'}"
        if status >= 400:
            items = document.get("errors", [{}])[0].get("code", "")
    except ValueError:
        pass
    print(f"| {what} | {clients} | {status} | {len(body) / 1e6:.1f} MB | {items} | {elapsed:.2f} s "
          f"| {before} → {memory('VmHWM')} MiB |", flush=True)


admin = token("platform-admin")
status, _ = call("POST", "/api/v1/tenants", admin, {"id": "heavy", "name": "heavy"})
assert status == 201, status
tenant_admin, writer, viewer = token("tenant-admin", "heavy"), token("metrics-writer", "heavy"), token("viewer", "heavy")

# 1,000 devices at the caps: 64 labels of 256 control characters (6 bytes each in JSON),
# 16 KiB of metadata, 2,000 characters of description.
labels = {f"label-{i:02d}": "\u0001" * 256 for i in range(64)}
device = {"labels": labels, "metadata": {"notes": "m" * 16_000}, "description": "\u0001" * 2000}


def create(i):
    status, body = call("POST", "/api/v1/tenants/heavy/devices", tenant_admin, dict(device, id=f"dev-{i:04d}"))
    assert status == 201, body[:300]


with concurrent.futures.ThreadPoolExecutor(8) as pool:
    list(pool.map(create, range(1000)))
call("POST", "/api/v1/tenants/heavy/devices", tenant_admin, {"id": "logger"})

# 10,000 points of 64 KiB strings on one sensor, a second apart, and the same strings as
# the latest point of 900 more sensors.
start = datetime.datetime(2026, 11, 1, tzinfo=datetime.timezone.utc)


def rfc3339(moment):
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def write(chunk):
    points = [{"device": "logger", "sensor": "log", "time": rfc3339(start + datetime.timedelta(seconds=i)),
               "value": f"{i:05d}" + "x" * 65_531} for i in range(chunk, chunk + 50)]
    if chunk < 900:
        points += [{"device": "logger", "sensor": f"line-{i:04d}", "time": rfc3339(start),
                    "value": f"{i:05d}" + "x" * 65_531} for i in range(chunk, chunk + 50)]
    status, body = call("POST", "/api/v1/tenants/heavy/metrics", writer, {"points": points})
    assert status == 200, body[:300]


with concurrent.futures.ThreadPoolExecutor(4) as pool:
    list(pool.map(write, range(0, 10_000, 50)))

window = f"from={rfc3339(start)}&to={rfc3339(start + datetime.timedelta(seconds=10_000))}"
print("| read | concurrent | status | body | items | time | service RSS → peak |")
print("|---|---|---|---|---|---|---|")
measure("`GET /devices?limit=1000`", "/api/v1/tenants/heavy/devices?limit=1000", viewer)
measure("`GET /devices?limit=1000`", "/api/v1/tenants/heavy/devices?limit=1000", viewer, clients=3)
measure("`GET …/points?limit=10000` (64 KiB strings)",
        f"/api/v1/tenants/heavy/devices/logger/sensors/log/points?limit=10000&{window}", viewer)
measure("`GET …/latest` (901 string sensors)", "/api/v1/tenants/heavy/devices/logger/latest", viewer)
measure("`GET …/aggregates?interval=1s&functions=first,last`",
        f"/api/v1/tenants/heavy/devices/logger/sensors/log/aggregates?interval=1s&functions=first,last&{window}", viewer)
measure("`GET …/aggregates?interval=1h&functions=first,last`",
        f"/api/v1/tenants/heavy/devices/logger/sensors/log/aggregates?interval=1h&functions=first,last&{window}", viewer)
