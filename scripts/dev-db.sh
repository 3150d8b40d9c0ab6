#!/usr/bin/env bash
# A throwaway local PostgreSQL 15 for development and tests.
#
#   scripts/dev-db.sh start DIR PORT   create (if needed) and start a cluster in DIR on 127.0.0.1:PORT
#   scripts/dev-db.sh stop DIR
#
# Metric storage: TimescaleDB when it is installed on this machine, else pg_partman
# (Debian's postgresql-15-partman). MILLWRIGHT_DEV_STORAGE=partman forces the plain
# path, =timescaledb insists on TimescaleDB. Chosen when the cluster is created.
#
# Two roles: millwright_owner owns the database and the schema (migrations run as it);
# millwright_app is the runtime role, which owns nothing and is subject to row-level
# security. Connections from 127.0.0.1 are trusted: never use this cluster for real data.
# PostgreSQL refuses to run as root, so as root the cluster belongs to the postgres user.
set -euo pipefail

command=${1:?usage: dev-db.sh start|stop DIR [PORT]}
dir=$(mkdir -p "${2:?data directory}" && cd "$2" && pwd)
port=${3:-54329}
bin=/usr/lib/postgresql/15/bin
storage=${MILLWRIGHT_DEV_STORAGE:-auto}
if [[ $storage == auto ]]; then
    if [[ -f /usr/lib/postgresql/15/lib/timescaledb.so ]]; then storage=timescaledb; else storage=partman; fi
fi

as_owner() {
    if [[ $(id -u) -eq 0 ]]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

case "$command" in
start)
    if [[ $(id -u) -eq 0 ]]; then chown postgres "$dir"; fi
    if [[ ! -f "$dir/PG_VERSION" ]]; then
        as_owner "$bin/initdb" -D "$dir" -U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 >/dev/null
        cat >>"$dir/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$dir'
max_connections = 200
shared_buffers = 256MB
fsync = on
CONF
        if [[ $storage == timescaledb ]]; then
            printf "shared_preload_libraries = 'timescaledb'\ntimescaledb.telemetry_level = off\n" >>"$dir/postgresql.conf"
        fi
    fi
    if ! as_owner "$bin/pg_ctl" -D "$dir" status >/dev/null 2>&1; then
        as_owner "$bin/pg_ctl" -D "$dir" -l "$dir/server.log" -w start >/dev/null
    fi
    psql="psql -h 127.0.0.1 -p $port -U postgres -v ON_ERROR_STOP=1 -q"
    if ! $psql -d postgres -tAc "SELECT 1 FROM pg_roles WHERE rolname = 'millwright_owner'" | grep -q 1; then
        $psql -d postgres -c "CREATE ROLE millwright_owner LOGIN" \
            -c "CREATE ROLE millwright_app LOGIN" \
            -c "CREATE DATABASE millwright OWNER millwright_owner"
        $psql -d millwright -c "REVOKE ALL ON SCHEMA public FROM PUBLIC"
        if [[ $storage == timescaledb ]]; then
            $psql -d millwright -c "CREATE EXTENSION timescaledb" \
                -c "GRANT USAGE ON SCHEMA public TO millwright_owner"
        else
            # pg_partman runs as the schema owner (migrations, maintenance).
            $psql -d millwright -c "CREATE SCHEMA partman" -c "CREATE EXTENSION pg_partman SCHEMA partman" \
                -c "GRANT ALL ON SCHEMA partman TO millwright_owner" \
                -c "GRANT ALL ON ALL TABLES IN SCHEMA partman TO millwright_owner" \
                -c "GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA partman TO millwright_owner" \
                -c "GRANT EXECUTE ON ALL PROCEDURES IN SCHEMA partman TO millwright_owner"
        fi
    fi
    echo "postgresql://millwright_app@127.0.0.1:$port/millwright"
    ;;
stop)
    if [[ -f "$dir/PG_VERSION" ]]; then
        as_owner "$bin/pg_ctl" -D "$dir" -m fast -w stop >/dev/null 2>&1 || true
    fi
    ;;
*)
    echo "usage: dev-db.sh start|stop DIR [PORT]" >&2
    exit 2
    ;;
esac
