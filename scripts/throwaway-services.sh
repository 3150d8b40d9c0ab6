# Sourced by test.sh and bench.sh: a throwaway PostgreSQL and the development issuer
# in a temporary folder, both stopped (and the folder removed) on exit.
#
#   throwaway_services PREFIX DB_PORT
#
# Sets: state (the folder), db_port, issuer_base (http://127.0.0.1:PORT), issuer_pid.
# A caller that starts the service sets server_pid, which is stopped first.
#
#   throwaway_service BINARY PORT   start `BINARY serve` on them (migrating first), wait until ready;
#                                   sets server_pid, base (http://127.0.0.1:PORT) and issuer.
#                                   Its metrics listener takes a free port (MILLWRIGHT_METRICS_PORT
#                                   to choose one), so that two scripts can run side by side.
#
#   bin=$(bench_binary)             what a benchmark measures: BENCH_BINARY (another build, e.g. an
#                                   older commit's), or the release build of this checkout.
#   bench_machine BINARY            the line a benchmark prints first: cores, CPU and binary.

source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

throwaway_cleanup() {
    [[ -n "${server_pid:-}" ]] && kill "$server_pid" 2>/dev/null || true
    [[ -n "${issuer_pid:-}" ]] && kill "$issuer_pid" 2>/dev/null || true
    scripts/dev-db.sh stop "$state/pg" || true
    rm -rf "$state"
}

throwaway_services() {
    state=$(mktemp -d "/tmp/$1.XXXXXX")
    chmod 755 "$state"
    db_port=$2
    trap throwaway_cleanup EXIT
    scripts/dev-db.sh start "$state/pg" "$db_port" >/dev/null
    python3 dev/issuer.py --port 0 --port-file "$state/issuer.port" 2>"$state/issuer.log" &
    issuer_pid=$!
    wait_for "the development issuer" 60 "$state/issuer.log" "$issuer_pid" -- test -s "$state/issuer.port"
    issuer_base="http://127.0.0.1:$(cat "$state/issuer.port")"
    wait_for "the development issuer at $issuer_base" 60 "$state/issuer.log" "$issuer_pid" -- \
        curl -sf "$issuer_base/realms/millwright/.well-known/openid-configuration"
}

throwaway_service() {
    issuer="$issuer_base/realms/millwright"
    MILLWRIGHT_DATABASE_URL="postgresql://millwright_app@127.0.0.1:$db_port/millwright" \
    MILLWRIGHT_MIGRATION_DATABASE_URL="postgresql://millwright_owner@127.0.0.1:$db_port/millwright" \
    MILLWRIGHT_OIDC_ISSUERS="$issuer" MILLWRIGHT_OIDC_ALLOW_HTTP=true MILLWRIGHT_MIGRATE_ON_START=true \
    MILLWRIGHT_LOG_LEVEL=${MILLWRIGHT_LOG_LEVEL:-warning} MILLWRIGHT_PORT=$2 \
    MILLWRIGHT_METRICS_PORT=${MILLWRIGHT_METRICS_PORT:-0} \
        "$1" serve >"$state/serve.log" 2>&1 &
    server_pid=$!
    base="http://127.0.0.1:$2"
    wait_for "the service at $base" 120 "$state/serve.log" "$server_pid" -- curl -sf "$base/readyz"
}

bench_binary() {
    if [[ -n ${BENCH_BINARY:-} ]]; then
        echo "$BENCH_BINARY"
        return
    fi
    swift build -c release --product millwright >/dev/null
    echo "$(swift build -c release --show-bin-path)/millwright"
}

bench_machine() {
    echo "== machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); binary: $1"
}

# The start the ingest benchmarks share (bench-alerts.sh, bench-streams.sh), after
# throwaway_service SERVICE: checkpoints only on demand, so that each run starts from
# one and none starts during it (otherwise the full-page writes after a checkpoint,
# every 30-60 s at these rates, make runs twice as fast or slow as their neighbours);
# the machine and storage engine printed; tenant `bench` (TENANT_JSON: the body that
# creates it) with devices dev-000…dev-099 (DEVICE_LABELS: their labels, a Python
# expression of i) whose sensors m.s00…m.s99 already exist. Sets psql_super, engine,
# the tokens admin, tenant_admin, writer and viewer, and time_base (µs, 23 h ago: the
# points the runs write).
bench_ingest_setup() {  # SERVICE TENANT_JSON DEVICE_LABELS
    psql_super() { psql "postgresql://postgres@127.0.0.1:$db_port/millwright" -v ON_ERROR_STOP=1 -qtAX "$@"; }
    psql_super -c "ALTER SYSTEM SET max_wal_size = '32GB'" -c "ALTER SYSTEM SET checkpoint_timeout = '1h'" \
        -c "SELECT pg_reload_conf()" >/dev/null
    engine=$(curl -sf "$base/readyz" | python3 -c 'import json, sys; print(json.load(sys.stdin)["storage"])')
    bench_machine "$1"
    echo "== storage: $engine"
    admin=$(issuer_token "$issuer" platform-admin)
    tenant_admin=$(issuer_token "$issuer" tenant-admin bench)
    writer=$(issuer_token "$issuer" metrics-writer bench)
    viewer=$(issuer_token "$issuer" viewer bench)
    curl -sf -o /dev/null -X POST "$base/api/v1/tenants" -H "Authorization: Bearer $admin" \
        -H 'Content-Type: application/json' -d "$2"
    local devices
    devices=$(python3 -c "import json; print(json.dumps({'devices': [{'id': 'dev-%03d' % i, 'labels': $3} for i in range(100)]}))")
    curl -sf -o /dev/null -X POST "$base/api/v1/tenants/bench/devices/batch" \
        -H "Authorization: Bearer $tenant_admin" -H 'Content-Type: application/json' -d "$devices"
    time_base=$((($(date +%s) - 23 * 3600) * 1000000))
    python3 -c "
for d in range(100):
    print('m,device=dev-%03d ' % d + ','.join('s%02d=0' % s for s in range(100)) + ' $((time_base - 1000000))')
" | curl -sf -o /dev/null -X POST "$base/api/v1/tenants/bench/write?precision=us" -H "Authorization: Bearer $writer" \
        --data-binary @-
}
