"""PostgreSQL is restarted under the running service; afterwards the first read, registry
write and ingest all succeed (no 503): the pool replaces connections whose server went
away before using them.

    python3 Tests/recovery/database_restart.py BASE_URL ISSUER_URL PG_DIR PG_PORT
"""
import os
import subprocess
import sys
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from millwright_api import API  # noqa: E402

base, issuer, pg_dir, pg_port = sys.argv[1:5]
api = API(base, issuer)
token, call = api.token, api.call


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
    status, answer = call(method, path, admin, body)
    if status != wanted:
        failures.append(f"{what}: {status} {str(answer)[:200]}")
for failure in failures:
    print("FAIL after a database restart:", failure, file=sys.stderr)
print(f"database restart: {4 - len(failures)} of 4 requests succeeded at once")
sys.exit(1 if failures else 0)
