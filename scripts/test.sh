#!/usr/bin/env bash
# Runs the whole test suite against real parts: a throwaway PostgreSQL 15 and the
# local development OIDC issuer, both started here and stopped on exit.
#
#   scripts/test.sh [extra swift test arguments]
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh

state=$(mktemp -d /tmp/millwright-test.XXXXXX)
chmod 755 "$state"
db_port=${MILLWRIGHT_TEST_DB_PORT:-54339}
cleanup() {
    [[ -n "${server_pid:-}" ]] && kill "$server_pid" 2>/dev/null || true
    [[ -n "${issuer_pid:-}" ]] && kill "$issuer_pid" 2>/dev/null || true
    scripts/dev-db.sh stop "$state/pg" || true
    rm -rf "$state"
}
trap cleanup EXIT

scripts/dev-db.sh start "$state/pg" "$db_port" >/dev/null
python3 dev/issuer.py --port 0 --port-file "$state/issuer.port" 2>"$state/issuer.log" &
issuer_pid=$!
for _ in $(seq 50); do [[ -s "$state/issuer.port" ]] && break; sleep 0.1; done
[[ -s "$state/issuer.port" ]] || { echo "the development issuer did not start" >&2; cat "$state/issuer.log" >&2; exit 1; }

export MILLWRIGHT_TEST_DATABASE_URL="postgresql://millwright_app@127.0.0.1:$db_port/millwright"
export MILLWRIGHT_TEST_OWNER_DATABASE_URL="postgresql://millwright_owner@127.0.0.1:$db_port/millwright"
export MILLWRIGHT_TEST_ISSUER_BASE="http://127.0.0.1:$(cat "$state/issuer.port")"

# Formatting is mechanical (.swift-format); a difference fails the run.
swift format lint --strict -r Sources Tests Package.swift

swift build --build-tests

# The contract: schemathesis against the service as it runs for real.
export MILLWRIGHT_DATABASE_URL=$MILLWRIGHT_TEST_DATABASE_URL
export MILLWRIGHT_MIGRATION_DATABASE_URL=$MILLWRIGHT_TEST_OWNER_DATABASE_URL
export MILLWRIGHT_OIDC_ISSUERS="$MILLWRIGHT_TEST_ISSUER_BASE/realms/millwright"
export MILLWRIGHT_OIDC_ALLOW_HTTP=true MILLWRIGHT_MIGRATE_ON_START=true MILLWRIGHT_LOG_LEVEL=warning
export MILLWRIGHT_PORT=${MILLWRIGHT_TEST_PORT:-18080}
"$(swift build --show-bin-path)/millwright" serve 2>"$state/serve.log" &
server_pid=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$MILLWRIGHT_PORT/readyz" >/dev/null && break; sleep 0.1; done
scripts/schemathesis.sh "http://127.0.0.1:$MILLWRIGHT_PORT" "$MILLWRIGHT_TEST_ISSUER_BASE/realms/millwright"
kill -TERM "$server_pid"
wait "$server_pid"

# Last, so that its summary closes the output.
swift test --skip-build "$@"
