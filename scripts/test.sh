#!/usr/bin/env bash
# Runs the whole test suite against real parts: a throwaway PostgreSQL 15 and the
# local development OIDC issuer, both started here and stopped on exit.
#
#   scripts/test.sh [extra swift test arguments]
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh

source scripts/throwaway-services.sh
throwaway_services millwright-test "${MILLWRIGHT_TEST_DB_PORT:-31339}"

export MILLWRIGHT_TEST_DATABASE_URL="postgresql://millwright_app@127.0.0.1:$db_port/millwright"
export MILLWRIGHT_TEST_OWNER_DATABASE_URL="postgresql://millwright_owner@127.0.0.1:$db_port/millwright"
export MILLWRIGHT_TEST_ISSUER_BASE=$issuer_base

# Formatting is mechanical (.swift-format); a difference fails the run.
swift format lint --strict -r Sources Tests Package.swift

swift build --build-tests
# The HTTP contract in process, over in-memory domain implementations: no database, no
# issuer, no socket; the README's fast command, run first because it answers in seconds.
swift test --skip-build --filter "HTTPContract|TenantAccess"
# Every parser of client bytes under libFuzzer and AddressSanitizer, a few seconds each
# (MILLWRIGHT_FUZZ_SECONDS); any crash or failed check fails the run.
scripts/fuzz.sh "${MILLWRIGHT_FUZZ_SECONDS:-4}"
# deploy/: the systemd unit (systemd-analyze verify) and the environment example.
scripts/verify-deploy.sh "$(swift build --show-bin-path)/millwright"

# The contract: schemathesis against the service as it runs for real, logging JSON at
# debug level; its log is then scanned for every credential the run used. The database
# trusts local connections, so the password in the URL is there only to be looked for.
export MILLWRIGHT_SECRETS_FILE="$state/secrets.txt"
db_password=$(python3 -c 'import secrets; print(secrets.token_hex(12))')
echo "$db_password" >"$MILLWRIGHT_SECRETS_FILE"
export MILLWRIGHT_DATABASE_URL="postgresql://millwright_app:$db_password@127.0.0.1:$db_port/millwright"
export MILLWRIGHT_MIGRATION_DATABASE_URL=$MILLWRIGHT_TEST_OWNER_DATABASE_URL
export MILLWRIGHT_OIDC_ISSUERS="$MILLWRIGHT_TEST_ISSUER_BASE/realms/millwright"
export MILLWRIGHT_OIDC_ALLOW_HTTP=true MILLWRIGHT_MIGRATE_ON_START=true MILLWRIGHT_LOG_LEVEL=debug MILLWRIGHT_LOG_FORMAT=json
export MILLWRIGHT_TRUSTED_PROXIES=127.0.0.1  # NGINX, in the test below
export MILLWRIGHT_WEBHOOK_ALLOW_PRIVATE=true  # the signature test's receiver is on 127.0.0.1
export MILLWRIGHT_METRICS_PORT=${MILLWRIGHT_TEST_METRICS_PORT:-19464}
export MILLWRIGHT_PORT=${MILLWRIGHT_TEST_PORT:-18080}
"$(swift build --show-bin-path)/millwright" serve >"$state/serve.log" 2>&1 &
server_pid=$!
wait_for "the service on port $MILLWRIGHT_PORT" 120 "$state/serve.log" "$server_pid" -- \
    curl -sf "http://127.0.0.1:$MILLWRIGHT_PORT/readyz"
scripts/schemathesis.sh "http://127.0.0.1:$MILLWRIGHT_PORT" "$MILLWRIGHT_TEST_ISSUER_BASE/realms/millwright"
# The official InfluxDB v2 client writes through /api/v2/write unchanged.
python3 Tests/clients/influxdb_client_write.py "http://127.0.0.1:$MILLWRIGHT_PORT" "$MILLWRIGHT_TEST_ISSUER_BASE/realms/millwright"
# Webhook signatures verified by the Standard Webhooks library and by Python's hmac.
python3 Tests/webhooks/verify_signatures.py "http://127.0.0.1:$MILLWRIGHT_PORT" "$MILLWRIGHT_TEST_ISSUER_BASE/realms/millwright" \
    "$MILLWRIGHT_SECRETS_FILE"
# Every body of the line-protocol corpus over real HTTP, against what a real InfluxDB
# answered and stored for it (Tests/lineprotocol/verdicts.json) and the documented differences.
python3 Tests/lineprotocol/compare_http.py "http://127.0.0.1:$MILLWRIGHT_PORT" "$MILLWRIGHT_TEST_ISSUER_BASE/realms/millwright"
# deploy/nginx/millwright.conf with the real nginx in front of the same service.
python3 Tests/nginx/nginx_test.py "$MILLWRIGHT_PORT" "$MILLWRIGHT_TEST_ISSUER_BASE/realms/millwright" "$state/serve.log"
# Live streams with independent clients (httpx-sse, websockets): read from a second
# replica started there, written through this one; it ends with SIGTERM on the second.
python3 Tests/streams/streams_test.py "http://127.0.0.1:$MILLWRIGHT_PORT" "$MILLWRIGHT_TEST_ISSUER_BASE/realms/millwright" \
    "$(swift build --show-bin-path)/millwright" "$state"
# The real Prometheus scrapes the service after all that traffic; the alert rules and the
# Grafana dashboard's queries run against it; promtool checks and unit-tests the rules.
python3 Tests/prometheus/prometheus_test.py "$MILLWRIGHT_METRICS_PORT" "$MILLWRIGHT_PORT"
(cd deploy/prometheus && promtool check rules alerts.yml && promtool test rules alerts_test.yml)
# PostgreSQL restarted under the running service: the next requests must not fail for it.
python3 Tests/recovery/database_restart.py "http://127.0.0.1:$MILLWRIGHT_PORT" "$MILLWRIGHT_TEST_ISSUER_BASE/realms/millwright" \
    "$state/pg" "$db_port"
kill -TERM "$server_pid"
wait "$server_pid"
scripts/scan-log.sh "$state/serve.log" "$MILLWRIGHT_SECRETS_FILE"

# Last, so that its summary closes the output. Some tests start the binary itself.
export MILLWRIGHT_TEST_BINARY
MILLWRIGHT_TEST_BINARY="$(swift build --show-bin-path)/millwright"
swift test --skip-build "$@"
