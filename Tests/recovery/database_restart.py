"""PostgreSQL is restarted under the running service; afterwards the first read, registry
write and ingest all succeed (no 503): the pool replaces connections whose server went
away before using them.

    python3 Tests/recovery/database_restart.py BASE_URL ISSUER_URL PG_DIR PG_PORT
"""
import json
import subprocess
import sys
import urllib.error
import urllib.request
import uuid

base, issuer, pg_dir, pg_port = sys.argv[1:5]


def token(roles, tenant=None):
    url = f"{issuer}/token?roles={roles}" + (f"&tenant={tenant}" if tenant else "")
    return json.load(urllib.request.urlopen(url))["access_token"]


def call(method, path, bearer, body=None):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(base + path, data=data, method=method)
    request.add_header("Authorization", f"Bearer {bearer}")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


tenant = "restart-" + uuid.uuid4().hex[:8]
assert call("POST", "/api/v1/tenants", token("platform-admin"), {"id": tenant, "name": "restart"})[0] == 201
admin = token("tenant-admin", tenant)
assert call("POST", f"/api/v1/tenants/{tenant}/devices", admin, {"id": "d1"})[0] == 201
points = {"points": [{"device": "d1", "sensor": "s", "value": 1}]}
assert call("POST", f"/api/v1/tenants/{tenant}/metrics", admin, points)[0] == 200
for _ in range(8):  # every pooled connection used, then idle
    assert call("GET", f"/api/v1/tenants/{tenant}/devices", admin)[0] == 200

subprocess.run(["scripts/dev-db.sh", "stop", pg_dir], check=True, stdout=subprocess.DEVNULL)
subprocess.run(["scripts/dev-db.sh", "start", pg_dir, pg_port], check=True, stdout=subprocess.DEVNULL)

failures = []
for what, method, path, body, wanted in [
    ("read", "GET", f"/api/v1/tenants/{tenant}/devices", None, 200),
    ("registry write", "POST", f"/api/v1/tenants/{tenant}/devices", {"id": "d2"}, 201),
    ("ingest", "POST", f"/api/v1/tenants/{tenant}/metrics", {"points": [{"device": "d1", "sensor": "s", "value": 2}]}, 200),
    ("read again", "GET", f"/api/v1/tenants/{tenant}/devices/d2", None, 200),
]:
    status, text = call(method, path, admin, body)
    if status != wanted:
        failures.append(f"{what}: {status} {text[:200]}")
for failure in failures:
    print("FAIL after a database restart:", failure, file=sys.stderr)
print(f"database restart: {4 - len(failures)} of 4 requests succeeded at once")
sys.exit(1 if failures else 0)
