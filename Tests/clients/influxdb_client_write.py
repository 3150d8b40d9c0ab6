"""The official InfluxDB v2 Python client (influxdb-client) writes to Millwright
unchanged: Token auth, line protocol, gzip, its batching; errors are parsed by it.

    python3 Tests/clients/influxdb_client_write.py BASE_URL ISSUER_URL

Creates its own tenant, writes points of every kind, reads them back through the
query API and checks an error answer the client raises. Exits non-zero on failure.
"""
import json
import os
import sys
import time
import urllib.request
import uuid

from influxdb_client import InfluxDBClient, Point, WritePrecision
from influxdb_client.client.write_api import SYNCHRONOUS
from influxdb_client.rest import ApiException

base, issuer = sys.argv[1], sys.argv[2]


def token(roles, tenant=None):
    url = f"{issuer}/token?roles={roles}" + (f"&tenant={tenant}" if tenant else "")
    return json.load(urllib.request.urlopen(url))["access_token"]


def call(method, path, bearer, body=None):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(base + path, data=data, method=method)
    request.add_header("Authorization", f"Bearer {bearer}")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request) as response:
        return json.load(response) if response.status != 204 else None


def check(condition, message):
    if not condition:
        print(f"FAIL: {message}", file=sys.stderr)
        sys.exit(1)


tenant = "influx-" + uuid.uuid4().hex[:8]
call("POST", "/api/v1/tenants", token("platform-admin"), {"id": tenant, "name": "InfluxDB client test"})
admin = token("tenant-admin", tenant)
call("POST", f"/api/v1/tenants/{tenant}/devices", admin, {"id": "press-01"})
writer = token("metrics-writer", tenant)

now = time.time_ns()
for gzip in (False, True):
    with InfluxDBClient(url=base, token=writer, org=tenant, enable_gzip=gzip) as client:
        write_api = client.write_api(write_options=SYNCHRONOUS)
        points = [
            Point("press").tag("device", "press-01").field("temperature", 20.5 + i).field("cycles", i)
            .field("running", i % 2 == 0).field("mode", "auto").time(now - (10 - i) * 1_000_000_000 + 1000 * int(gzip), WritePrecision.NS)
            for i in range(10)
        ]
        write_api.write(bucket="machines", record=points)

# A device key writes its own device's points through the same client.
key = call("POST", f"/api/v1/tenants/{tenant}/devices/press-01/keys", admin, {"name": "gateway"})["secret"]
with InfluxDBClient(url=base, token=key, org=tenant) as client:
    client.write_api(write_options=SYNCHRONOUS).write(bucket="machines", record="press,device=press-01 keyed=1i")

viewer = token("viewer", tenant)
latest = call("GET", f"/api/v1/tenants/{tenant}/devices/press-01/latest", viewer)
values = {s["sensor"]: (s["kind"], s["value"]) for s in latest["sensors"]}
check(values.get("press.temperature") == ("number", 29.5), f"temperature: {values}")
check(values.get("press.cycles") == ("integer", 9), f"cycles: {values}")
check(values.get("press.running") == ("boolean", False), f"running: {values}")
check(values.get("press.mode") == ("string", "auto"), f"mode: {values}")
page = call("GET", f"/api/v1/tenants/{tenant}/devices/press-01/sensors/press.temperature/points?limit=100", viewer)
check(len(page["points"]) == 20, f"expected 20 temperature points, got {len(page['points'])}")

# An error the client parses: InfluxDB's JSON body and X-Influx-Error header.
with InfluxDBClient(url=base, token=writer, org=tenant) as client:
    try:
        client.write_api(write_options=SYNCHRONOUS).write(bucket="machines", record="press,device=ghost temperature=1")
        check(False, "a point for an unknown device was accepted")
    except ApiException as error:
        check(error.status == 422, f"status {error.status}")
        check(json.loads(error.body)["code"] == "unprocessable entity", f"body {error.body}")
        check("unknown_device" in error.headers.get("X-Influx-Error", "") or "ghost" in error.headers.get("X-Influx-Error", ""),
              f"header {error.headers}")
# The secret-scan of the service's log looks for every credential used.
if os.environ.get("MILLWRIGHT_SECRETS_FILE"):
    with open(os.environ["MILLWRIGHT_SECRETS_FILE"], "a") as secrets:
        secrets.write("\n".join([admin, writer, viewer, key]) + "\n")
print("influxdb-client: wrote 81 points of four kinds (plain, gzip, with a device key) and read them back; errors parsed")
