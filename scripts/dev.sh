#!/usr/bin/env bash
# Starts Millwright for a newcomer: installs what it needs, starts a throwaway local
# PostgreSQL (in .devdata/, port 54329) and the development OIDC issuer (port 8180,
# not part of the service), applies migrations, creates a demo tenant, prints tokens
# and curl calls that work, then serves on http://127.0.0.1:8080 until Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."

db_port=${MILLWRIGHT_DEV_DB_PORT:-54329}
issuer_port=${MILLWRIGHT_DEV_ISSUER_PORT:-8180}
port=${MILLWRIGHT_PORT:-8080}

scripts/install-deps.sh
mkdir -p .devdata && chmod 755 .devdata
scripts/dev-db.sh start "$PWD/.devdata/pg" "$db_port" >/dev/null

python3 dev/issuer.py --port "$issuer_port" 2>.devdata/issuer.log &
issuer_pid=$!
cleanup() {
    trap "" INT TERM  # finish cleaning up even if a second signal comes
    [[ -n "${server_pid:-}" ]] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
    kill "$issuer_pid" 2>/dev/null || true
    scripts/dev-db.sh stop "$PWD/.devdata/pg"
    trap - EXIT
}
trap cleanup EXIT INT TERM

echo "building (the first build takes a few minutes)…" >&2
swift build -c release --product millwright >&2

export MILLWRIGHT_DATABASE_URL="postgresql://millwright_app@127.0.0.1:$db_port/millwright"
export MILLWRIGHT_MIGRATION_DATABASE_URL="postgresql://millwright_owner@127.0.0.1:$db_port/millwright"
export MILLWRIGHT_OIDC_ISSUERS="http://127.0.0.1:$issuer_port/realms/millwright"
export MILLWRIGHT_OIDC_ALLOW_HTTP=true
export MILLWRIGHT_MIGRATE_ON_START=true
export MILLWRIGHT_PORT=$port
bin=$(swift build -c release --show-bin-path)/millwright

source scripts/common.sh
token() { issuer_token "http://127.0.0.1:$issuer_port/realms/millwright" "$1" "${2:-}" 3600; }  # roles [tenant]
wait_for "the development issuer on port $issuer_port" 60 - - -- \
    curl -sf "http://127.0.0.1:$issuer_port/realms/millwright/.well-known/openid-configuration"

"$bin" serve &
server_pid=$!
wait_for "Millwright on port $port" 120 - "$server_pid" -- curl -sf "http://127.0.0.1:$port/readyz"

admin=$(token platform-admin)
curl -s -o /dev/null -X POST "http://127.0.0.1:$port/api/v1/tenants" -H "Authorization: Bearer $admin" \
    -H 'Content-Type: application/json' -d '{"id": "demo", "name": "Demo Works"}'
tenant_admin=$(token tenant-admin demo)

cat <<TEXT

Millwright is running on http://127.0.0.1:$port (Ctrl-C stops it, the database and the issuer).

A platform admin's token (valid 1 h):
  export ADMIN='$admin'
A tenant admin of tenant "demo":
  export TOKEN='$tenant_admin'
More tokens: curl 'http://127.0.0.1:$issuer_port/realms/millwright/token?roles=viewer&tenant=demo'

Try:
  curl -s http://127.0.0.1:$port/api/v1/tenants -H "Authorization: Bearer \$ADMIN"
  curl -s -X POST http://127.0.0.1:$port/api/v1/tenants/demo/devices -H "Authorization: Bearer \$TOKEN" \\
       -H 'Content-Type: application/json' -d '{"id": "press-01", "labels": {"line": "A"}}'
  curl -s -X POST http://127.0.0.1:$port/api/v1/tenants/demo/devices/press-01/sensors -H "Authorization: Bearer \$TOKEN" \\
       -H 'Content-Type: application/json' -d '{"key": "temperature", "kind": "number", "unit": "°C", "min": -20, "max": 200}'
  curl -s http://127.0.0.1:$port/api/v1/tenants/demo/devices -H "Authorization: Bearer \$TOKEN"
  curl -s -X POST http://127.0.0.1:$port/api/v1/tenants/demo/devices/press-01/keys -H "Authorization: Bearer \$TOKEN" \\
       -H 'Content-Type: application/json' -d '{"name": "plc"}'

Metrics (a device key from the call above works too, for press-01's points):
  curl -s -X POST http://127.0.0.1:$port/api/v1/tenants/demo/metrics -H "Authorization: Bearer \$TOKEN" \\
       -H 'Content-Type: application/json' -d '{"points": [{"device": "press-01", "sensor": "temperature", "value": 23.5}]}'
  printf 'press,device=press-01 cycles=1200i,running=true\\n' | curl -s -X POST \\
       http://127.0.0.1:$port/api/v1/tenants/demo/write -H "Authorization: Bearer \$TOKEN" --data-binary @-
  curl -s http://127.0.0.1:$port/api/v1/tenants/demo/devices/press-01/latest -H "Authorization: Bearer \$TOKEN"
  curl -s "http://127.0.0.1:$port/api/v1/tenants/demo/devices/press-01/sensors/temperature/aggregates?interval=1m" \\
       -H "Authorization: Bearer \$TOKEN"
TEXT
wait $server_pid
