#!/usr/bin/env bash
# What deleting one sensor and one maintenance run cost on TimescaleDB when another
# tenant holds compressed points, with the schema before migration 0010 and after it,
# in one run on one throwaway database (TimescaleDB must be installed; plain PostgreSQL
# has nothing compressed to decompress).
#
#   scripts/bench-compressed-deletes.sh [POINTS]     (default 2,000,000 compressed points)
#
# Tenant `keeper` (retention 365 days) holds POINTS number points 25 days old, compressed.
# Tenant `other` (retention 10 days) holds two sensors with recent points. Each
# measurement runs in a transaction that is rolled back, so both schemas see the same data:
# `other` deletes a sensor, then the maintenance runs; printed are the time, the outcome
# and how many of `keeper`'s compressed rows were decompressed.
set -euo pipefail
cd "$(dirname "$0")/.."
points=${1:-2000000}
scripts/install-deps.sh
swift build -c release --product millwright >&2
bin=$(swift build -c release --show-bin-path)

source scripts/throwaway-services.sh
throwaway_services millwright-bench-compressed "${BENCH_DB_PORT:-31383}"
owner="postgresql://millwright_owner@127.0.0.1:$db_port/millwright"
psql_owner() { psql "$owner" -v ON_ERROR_STOP=1 -qtAX "$@"; }
migrate() {  # MIGRATIONS_DIR
    MILLWRIGHT_MIGRATIONS_DIR=$1 MILLWRIGHT_DATABASE_URL="postgresql://millwright_app@127.0.0.1:$db_port/millwright" \
        MILLWRIGHT_MIGRATION_DATABASE_URL=$owner MILLWRIGHT_OIDC_ISSUERS="$issuer_base/realms/millwright" \
        MILLWRIGHT_OIDC_ALLOW_HTTP=true "$bin/millwright" migrate >/dev/null
}
mkdir "$state/before"
for file in Migrations/*.sql; do
    [[ $(basename "$file") < 0010 ]] && cp "$file" "$state/before/"
done
migrate "$state/before"
[[ $(psql_owner -c "SELECT engine FROM millwright.metric_storage") == timescaledb ]] || {
    echo "TimescaleDB is not installed here: nothing is compressed, nothing to measure" >&2
    exit 1
}
psql_owner >/dev/null <<SQL
SELECT set_config('millwright.platform', 'on', false);
INSERT INTO millwright.tenants (id, name, retention_days) VALUES ('keeper', 'Keeper', 365), ('other', 'Other', 10);
SELECT set_config('millwright.platform', '', false);
SELECT set_config('millwright.tenant_id', 'keeper', false);
INSERT INTO millwright.devices (tenant_id, id) VALUES ('keeper', 'd1');
INSERT INTO millwright.sensors (tenant_id, device_id, key, kind) SELECT 'keeper', 'd1', 's' || g, 'number' FROM generate_series(1, 100) g;
INSERT INTO millwright_metrics.number_points (tenant_id, sensor_id, time, value)
SELECT 'keeper', s.sensor_id, date_trunc('day', now() - interval '25 days') + g * interval '1 second' * (86000 / ($points / 100)), g
FROM millwright.sensors s, generate_series(1, $points / 100) g WHERE s.tenant_id = 'keeper';
SELECT set_config('millwright.tenant_id', 'other', false);
INSERT INTO millwright.devices (tenant_id, id) VALUES ('other', 'd1');
INSERT INTO millwright.sensors (tenant_id, device_id, key, kind) VALUES ('other', 'd1', 'gone', 'number'), ('other', 'd1', 'kept', 'number');
INSERT INTO millwright_metrics.number_points (tenant_id, sensor_id, time, value)
SELECT 'other', s.sensor_id, now() - g * interval '1 second', g FROM millwright.sensors s, generate_series(1, 100) g WHERE s.tenant_id = 'other';
SELECT count(compress_chunk(c, true)) FROM show_chunks('millwright_metrics.number_points', older_than => now() - interval '10 days') c;
SQL

measure() {  # LABEL
    psql "$owner" -qtAX 2>&1 <<'SQL' | grep -E "^(Time|ERROR|DETAIL|other|maintenance|keeper)" | sed "s/^/$1: /"
\set decompressed 'SELECT ''keeper rows decompressed: '' || coalesce(sum((xpath(''/row/n/text()'', query_to_xml(format(''SELECT count(*) AS n FROM ONLY %s WHERE tenant_id = %L'', c, ''keeper''), false, true, '''')))[1]::text::bigint), 0) FROM show_chunks(''millwright_metrics.number_points'', older_than => now() - interval ''10 days'') c'
SELECT set_config('millwright.tenant_id', 'other', false) \g /dev/null
BEGIN;
SELECT 'other deletes a sensor';
\timing on
DELETE FROM millwright.sensors WHERE device_id = 'd1' AND key = 'gone';
\timing off
:decompressed;
ROLLBACK;
SELECT set_config('millwright.tenant_id', '', false) \g /dev/null
BEGIN;
SELECT 'maintenance';
\timing on
SELECT 'maintenance deleted ' || millwright.maintain_metric_storage() || ' points';
\timing off
:decompressed;
ROLLBACK;
SQL
}

echo "== machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); TimescaleDB $(psql_owner -c "SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'"); keeper: $points compressed points"
measure "before 0010"
migrate Migrations
measure "after 0010"
