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
