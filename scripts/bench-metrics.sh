#!/usr/bin/env bash
# Benchmarks metric ingestion and queries on this machine, with the database, the
# service and the load generator (wrk) all on it, and writes the figures to
# bench/results/metrics-<storage engine>.md (BENCHMARKS.md quotes them). MILLWRIGHT_DEV_STORAGE=partman
# benchmarks the plain PostgreSQL path where TimescaleDB is installed.
#
#   scripts/bench-metrics.sh      (about 10 minutes after the release build)
#
# 1. HTTP ingest, line protocol and JSON, batches of 1,000 and 5,000 points, 8 and 64
#    connections, 100 devices × 100 sensors: points/s, request p50/p99, and stored rows
#    checked against acknowledged points after every run.
# 2. In the same run, before and after the HTTP runs, 2 million points of the same shape
#    COPYed straight into the same table (binary, two streams like the service's writer):
#    the physical limit, and the ratio of the best HTTP rate to it.
# 3. The tenant topped up past 10 million points, then query p50/p99 (wrk, 4 connections)
#    for `points` (1,000 of one sensor), `aggregates` (24 h at 1 min) and `latest`.
# 4. The service's peak resident memory (VmHWM).
#
# BENCH_BINARY=/path/to/millwright measures another build; BENCH_DURATION (s, default 15), BENCH_PROFILE=FILE records perf during the LP 5,000 × 64 run.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
command -v wrk >/dev/null || { apt-get install -y -qq wrk >/dev/null 2>&1 || sudo apt-get install -y -qq wrk; }
duration=${BENCH_DURATION:-15}
port=${BENCH_PORT:-18091}
bin=$(swift build -c release --show-bin-path)

source scripts/throwaway-services.sh
service=$(bench_binary)
throwaway_services millwright-bench-metrics "${BENCH_DB_PORT:-31369}"
owner="postgresql://millwright_owner@127.0.0.1:$db_port/millwright"
psql_owner() { psql "$owner" -v ON_ERROR_STOP=1 -qtAX "$@"; }
throwaway_service "$service" "$port"
engine=$(curl -sf "$base/readyz" | python3 -c 'import json, sys; print(json.load(sys.stdin)["storage"])')

token() { issuer_token "$issuer" "$@"; }
admin=$(token platform-admin)
curl -sf -o /dev/null -X POST "$base/api/v1/tenants" -H "Authorization: Bearer $admin" -H 'Content-Type: application/json' \
    -d '{"id": "bench", "name": "Bench"}'
writer=$(token metrics-writer bench)
viewer=$(token viewer bench)
tenant_admin=$(token tenant-admin bench)
python3 - "$base" "$tenant_admin" <<'PY'
import json, sys, urllib.request
base, token = sys.argv[1], sys.argv[2]
devices = [{"id": f"dev-{i:03d}"} for i in range(100)]
request = urllib.request.Request(f"{base}/api/v1/tenants/bench/devices/batch", data=json.dumps({"devices": devices}).encode(),
                                 headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
urllib.request.urlopen(request).read()
PY
now_us=$(($(date +%s) * 1000000))
time_base=$((now_us - 23 * 3600 * 1000000))
# The 10,000 sensors are created by the first write (auto_create_sensors).
python3 -c "
for d in range(100):
    print('m,device=dev-%03d ' % d + ','.join('s%02d=0' % s for s in range(100)) + ' $((time_base - 1000000))')
" | curl -sf -X POST "$base/api/v1/tenants/bench/write?precision=us" -H "Authorization: Bearer $writer" --data-binary @- >/dev/null
stored() { psql_owner -c "SELECT count(*) FROM millwright_metrics.number_points WHERE tenant_id = 'bench'"; }

# COPY straight into the same table: the same shape of points (all 10,000 sensors per
# timestamp), binary format, two concurrent streams as the service's writer uses, in a
# time window of its own. Run before and after the HTTP runs (the index grows).
psql_owner -c "SET millwright.tenant_id = 'bench'" \
    -c "COPY (SELECT sensor_id FROM millwright.sensors ORDER BY sensor_id) TO STDOUT" >"$state/sensors.txt"
copy_points=2000000
copy_rate() {  # WINDOW (hours before the HTTP runs' window); prints rows/s
    python3 - "$state/sensors.txt" "$state/copy" "$copy_points" "$((time_base - $1 * 3600 * 1000000))" <<'PY'
import struct, sys
sensors = [int(line) for line in open(sys.argv[1]) if line.strip()]
count, start = int(sys.argv[3]), int(sys.argv[4])
postgres_epoch = 946_684_800_000_000
halves = [sensors[: len(sensors) // 2], sensors[len(sensors) // 2 :]]
for part, chosen in enumerate(halves):
    with open(f"{sys.argv[2]}.{part}", "wb") as out:
        out.write(b"PGCOPY\n\xff\r\n\x00" + struct.pack("!ii", 0, 0))
        row = struct.Struct("!hi5siqiqid")
        for i in range(count // len(sensors)):
            t = start + i * 1000 - postgres_epoch
            for s in chosen:
                out.write(row.pack(4, 5, b"bench", 8, s, 8, t, 8, float(i % 1000) + 0.5))
        out.write(struct.pack("!h", -1))
PY
    local started seconds pids=()
    started=$(date +%s.%N)
    for part in 0 1; do
        psql_owner -c "\\copy millwright_metrics.number_points (tenant_id, sensor_id, time, value) FROM '$state/copy.$part' WITH (FORMAT binary)" &
        pids+=($!)
    done
    for pid in "${pids[@]}"; do wait "$pid" || { echo "COPY failed" >&2; exit 1; }; done
    seconds=$(python3 -c "print($(date +%s.%N) - $started)")
    python3 -c "print(round($copy_points / $seconds))"
}
copy_before=$(copy_rate 1)
echo "copy before the HTTP runs: $copy_before rows/s" >&2

results=bench/results/metrics-$engine.md
mkdir -p bench/results
machine="$(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), $(free -g | awk '/Mem:/ {print $2}') GiB RAM"
{
    echo "# Metric router benchmark"
    echo
    echo "$(date -u +%Y-%m-%dT%H:%MZ), $machine; storage: $engine; PostgreSQL $(psql_owner -c 'SHOW server_version')."
    echo "Database, service (release build) and wrk on the same machine. Command: \`scripts/bench-metrics.sh\` (${duration} s per run)."
    echo
    echo "## HTTP ingest (wrk -t2, every point unique: the COPY path)"
    echo
    echo "| format | batch | connections | points/s | requests/s | p50 ms | p99 ms | acknowledged | stored | refused (429/503) |"
    echo "|---|---|---|---|---|---|---|---|---|---|"
} >"$results"

run=0
best=0
for format in lp json; do
    for batch in 1000 5000; do
        for connections in 8 64; do
            before=$(stored)
            if [[ -n "${BENCH_PROFILE:-}" && $format == lp && $batch == 5000 && $connections == 64 ]]; then
                perf record -F 499 -g -p "$server_pid" -o "$BENCH_PROFILE" -- sleep "$duration" >/dev/null 2>&1 &
                perf_pid=$!
            fi
            BENCH_TOKEN=$writer BENCH_FORMAT=$format BENCH_BATCH=$batch BENCH_TIME_BASE=$time_base BENCH_RUN=$run \
                wrk -t2 -c"$connections" -d"${duration}s" --timeout 30s -s bench/ingest.lua "$base" >"$state/wrk.txt"
            [[ -n "${perf_pid:-}" ]] && { wait "$perf_pid" || true; unset perf_pid; }
            sleep 1  # requests wrk cut off at the end may still commit
            after=$(stored)
            eval "$(grep '^RESULT' "$state/wrk.txt" | sed 's/^RESULT //')"
            acked=$(((requests - non2xx - socket_errors) * batch))
            seconds=$(python3 -c "print($duration_us / 1e6)")
            rate=$(python3 -c "print(round($acked / $seconds))")
            rps=$(python3 -c "print(round(($requests - $non2xx) / $seconds, 1))")
            lost=$((acked > after - before ? acked - (after - before) : 0))
            echo "| $format | $batch | $connections | $rate | $rps | $p50_ms | $p99_ms | $acked | $((after - before)) | $non2xx |" >>"$results"
            echo "ingest $format batch=$batch c=$connections: $rate points/s, p50 $p50_ms ms, p99 $p99_ms ms, acked $acked, stored $((after - before)), lost $lost" >&2
            ((rate > best)) && best=$rate && best_run="$format, $batch × $connections"
            ((lost == 0)) || { echo "ACKNOWLEDGED POINTS LOST: $lost" >&2; exit 1; }
            run=$((run + 1))
        done
    done
done

copy_after=$(copy_rate 2)
copy_mean=$(((copy_before + copy_after) / 2))
ratio=$(python3 -c "print(round(100 * $best / $copy_mean))")
{
    echo
    echo "## COPY, same run, same table and index"
    echo
    echo "- Binary COPY of $copy_points points in two concurrent streams (psql \\copy, as the owner), the same shape of"
    echo "  points in a time window of its own: **$copy_before rows/s** before the HTTP runs, **$copy_after rows/s** after them."
    echo "- Best HTTP ingest ($best_run): **$best points/s = $ratio % of the mean COPY rate** (target: at least 50 %)."
} >>"$results"
echo "copy: $copy_before / $copy_after rows/s; best HTTP $best points/s = $ratio %" >&2

# Top up past 10 million points (spread over the last 24 hours), then query.
have=$(stored)
if ((have < 10000000)); then
    psql_owner -c "SET millwright.tenant_id = 'bench'" -c "
        INSERT INTO millwright_metrics.number_points (tenant_id, sensor_id, time, value)
        SELECT 'bench', s.sensor_id, now() - interval '24 hours' + g * interval '1 second' * (86400.0 / $(((10000000 - have) / 10000 + 1))) + interval '3 microseconds', g % 97
        FROM millwright.sensors s, generate_series(0, $(((10000000 - have) / 10000))) g
        ON CONFLICT DO NOTHING" >/dev/null
    psql_owner -c "ANALYZE millwright_metrics.number_points" >/dev/null
fi
total=$(stored)
from=$(date -u -d '24 hours ago' +%Y-%m-%dT%H:%M:00Z)
to=$(date -u +%Y-%m-%dT%H:%M:00Z)
{
    echo
    echo "## Queries on a tenant holding $total points (100 devices × 100 sensors; wrk, ${duration} s each)"
    echo
    echo "Latency with one connection (requests back to back, no queueing); throughput with four."
    echo
    echo "| query | p50 ms | p99 ms | requests/s (1 connection) | requests/s (4 connections) | non-2xx |"
    echo "|---|---|---|---|---|---|"
} >>"$results"
for kind in latest aggregates points; do
    BENCH_TOKEN=$viewer BENCH_KIND=$kind BENCH_FROM=$from BENCH_TO=$to \
        wrk -t1 -c4 -d"${duration}s" -s bench/query.lua "$base" >"$state/wrk-query.txt"
    eval "$(grep '^RESULT' "$state/wrk-query.txt" | sed 's/^RESULT //')"
    rps4=$(python3 -c "print(round($requests / ($duration_us / 1e6)))")
    errors4=$non2xx
    BENCH_TOKEN=$viewer BENCH_KIND=$kind BENCH_FROM=$from BENCH_TO=$to \
        wrk -t1 -c1 -d"${duration}s" -s bench/query.lua "$base" >"$state/wrk-query.txt"
    eval "$(grep '^RESULT' "$state/wrk-query.txt" | sed 's/^RESULT //')"
    rps=$(python3 -c "print(round($requests / ($duration_us / 1e6)))")
    case $kind in
    latest) label="latest (100 sensors of a device)" ;;
    aggregates) label="aggregates (24 h at 1 min, avg/min/max/count)" ;;
    points) label="points (up to 1,000 of one sensor in 24 h)" ;;
    esac
    echo "| $label | $p50_ms | $p99_ms | $rps | $rps4 | $((non2xx + errors4)) |" >>"$results"
    echo "query $kind: p50 $p50_ms ms, p99 $p99_ms ms ($rps req/s)" >&2
done
peak=$(awk '/VmHWM/ {print $2}' "/proc/$server_pid/status")
{
    echo
    echo "Service peak resident memory (VmHWM) over the whole run: **$((peak / 1024)) MiB**."
} >>"$results"
cat "$results"
