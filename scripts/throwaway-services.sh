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
    for _ in $(seq 50); do [[ -s "$state/issuer.port" ]] && break; sleep 0.1; done
    [[ -s "$state/issuer.port" ]] || { echo "the development issuer did not start" >&2; cat "$state/issuer.log" >&2; exit 1; }
    issuer_base="http://127.0.0.1:$(cat "$state/issuer.port")"
}

throwaway_service() {
    issuer="$issuer_base/realms/millwright"
    MILLWRIGHT_DATABASE_URL="postgresql://millwright_app@127.0.0.1:$db_port/millwright" \
    MILLWRIGHT_MIGRATION_DATABASE_URL="postgresql://millwright_owner@127.0.0.1:$db_port/millwright" \
    MILLWRIGHT_OIDC_ISSUERS="$issuer" MILLWRIGHT_OIDC_ALLOW_HTTP=true MILLWRIGHT_MIGRATE_ON_START=true \
    MILLWRIGHT_LOG_LEVEL=${MILLWRIGHT_LOG_LEVEL:-warning} MILLWRIGHT_PORT=$2 \
        "$1" serve >"$state/serve.log" 2>&1 &
    server_pid=$!
    base="http://127.0.0.1:$2"
    for _ in $(seq 100); do curl -sf "$base/readyz" >/dev/null && return 0; sleep 0.1; done
    echo "the service did not become ready" >&2
    cat "$state/serve.log" >&2
    exit 1
}
