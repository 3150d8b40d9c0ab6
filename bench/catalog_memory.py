"""What the ingest catalog (the cache of devices and sensors ingestion checks points
against) costs the service's memory as tenants grow: tenants of 300 devices × 1,000
number sensors each (300,000 sensors, within the default quotas) are created and written
to one after another; after each, the service's resident memory (VmRSS) is printed.

    python3 bench/catalog_memory.py BASE ISSUER_REALM_URL SERVICE_PID [TENANTS]

Run by scripts/bench-catalog.sh, which starts the service and its database."""
import json
import sys
import time
import urllib.request

base, issuer, pid = sys.argv[1], sys.argv[2], int(sys.argv[3])
tenants = int(sys.argv[4]) if len(sys.argv) > 4 else 4


def token(roles, tenant=None):
    query = f"/token?roles={roles}&ttl=7200" + (f"&tenant={tenant}" if tenant else "")
    return json.load(urllib.request.urlopen(issuer + query))["access_token"]


def call(method, path, bearer, body, content_type="application/json"):
    request = urllib.request.Request(base + path, data=body, method=method)
    request.add_header("Authorization", f"Bearer {bearer}")
    request.add_header("Content-Type", content_type)
    with urllib.request.urlopen(request, timeout=600) as response:
        return response.status


def rss():
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) // 1024


admin = token("platform-admin")
print("| tenants written | sensors in all | service RSS |")
print("|---|---|---|")
print(f"| 0 | 0 | {rss()} MiB |", flush=True)
for n in range(tenants):
    tenant = f"cat-{n}"
    call("POST", "/api/v1/tenants", admin, json.dumps({"id": tenant, "name": tenant}).encode())
    tenant_admin, writer = token("tenant-admin", tenant), token("metrics-writer", tenant)
    devices = [{"id": f"dev-{d:03d}"} for d in range(300)]
    for start in range(0, 300, 100):
        call("POST", f"/api/v1/tenants/{tenant}/devices/batch", tenant_admin,
             json.dumps({"devices": devices[start:start + 100]}).encode())
    fields = ",".join(f"s{s:03d}=1" for s in range(1000))
    # Twice: the first write creates the sensors, the second is checked against the
    # catalog as it is cached.
    for second in (1, 2):
        for start in range(0, 300, 10):
            stamp = int(time.time()) - 3600 + second
            body = "\n".join(f"m,device=dev-{d:03d} {fields} {stamp}" for d in range(start, start + 10))
            call("POST", f"/api/v1/tenants/{tenant}/write?precision=s", writer, body.encode(), "text/plain")
    time.sleep(1)
    print(f"| {n + 1} | {(n + 1) * 300_000:,} | {rss()} MiB |", flush=True)
