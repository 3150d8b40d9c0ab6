#!/usr/bin/env bash
# Benchmarks the live streams on this machine (database, service, writers and clients all
# on it) and prints the figures BENCHMARKS.md quotes.
#
#   scripts/bench-streams.sh      (about 5 minutes after the release build)
#
# 1. Ingest with 0 and with 100 SSE subscribers, in the same run: wrk posting line
#    protocol as fast as it can (5,000 points × 8 connections, 100 devices × 100
#    sensors), BENCH_DURATION s a run, alternately without subscribers and with one SSE
#    stream per device open (each receives every point of its device; the clients read
#    and count without parsing, as cheap as a client can be on these shared cores), after
#    a warm-up run not counted. Prints points/s and the service's CPU per point of each
#    run, and the mean ratio.
# 2. Delivery at 50,000 points/s: a paced writer (a request of 5,000 points every 100
#    ms, each point stamped with its send time) and the 100 subscribers, BENCH_LAG_SECONDS
#    long. Delay = arrival at the subscriber − the point's time, so it also holds the
#    write request's own time (an upper bound of commit-to-delivery). Prints p50, p99, max.
# 3. Memory: the service's resident set before and after opening 1,000 idle streams.
#
# BENCH_BINARY=/path/to/millwright measures another build.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
command -v wrk >/dev/null || { apt-get install -y -qq wrk >/dev/null 2>&1 || sudo apt-get install -y -qq wrk; }
duration=${BENCH_DURATION:-15}
lag_seconds=${BENCH_LAG_SECONDS:-60}
rounds=${BENCH_ROUNDS:-4}
source scripts/throwaway-services.sh
service=$(bench_binary)
throwaway_services millwright-bench-streams "${BENCH_DB_PORT:-31479}"
export MILLWRIGHT_LOG_LEVEL=warning MILLWRIGHT_STREAM_MAX_PER_TENANT=5000 MILLWRIGHT_STREAM_MAX_PER_PRINCIPAL=5000
export MILLWRIGHT_MAX_CONNECTIONS_PER_CLIENT=3000
throwaway_service "$service" "${BENCH_PORT:-18098}"
psql_super() { psql "postgresql://postgres@127.0.0.1:$db_port/millwright" -v ON_ERROR_STOP=1 -qtAX "$@"; }
# Runs start from a checkpoint and none starts during one (see bench-alerts.sh).
psql_super -c "ALTER SYSTEM SET max_wal_size = '32GB'" -c "ALTER SYSTEM SET checkpoint_timeout = '1h'" \
    -c "SELECT pg_reload_conf()" >/dev/null
engine=$(curl -sf "$base/readyz" | python3 -c 'import json, sys; print(json.load(sys.stdin)["storage"])')
bench_machine "$service"
echo "== storage: $engine"
admin=$(issuer_token "$issuer" platform-admin)
tenant_admin=$(issuer_token "$issuer" tenant-admin bench)
writer=$(issuer_token "$issuer" metrics-writer bench)
viewer=$(issuer_token "$issuer" viewer bench)
curl -sf -o /dev/null -X POST "$base/api/v1/tenants" -H "Authorization: Bearer $admin" \
    -H 'Content-Type: application/json' -d '{"id": "bench", "name": "Bench"}'
devices=$(python3 -c 'import json; print(json.dumps({"devices": [{"id": "dev-%03d" % i} for i in range(100)]}))')
curl -sf -o /dev/null -X POST "$base/api/v1/tenants/bench/devices/batch" \
    -H "Authorization: Bearer $tenant_admin" -H 'Content-Type: application/json' -d "$devices"
time_base=$((($(date +%s) - 23 * 3600) * 1000000))
python3 -c "
for d in range(100):
    print('m,device=dev-%03d ' % d + ','.join('s%02d=0' % s for s in range(100)) + ' $((time_base - 1000000))')
" | curl -sf -o /dev/null -X POST "$base/api/v1/tenants/bench/write?precision=us" -H "Authorization: Bearer $writer" --data-binary @-

run=0
cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }  # user + system, in clock ticks
ingest() {  # LABEL: one wrk run; prints points/s and the service's CPU, sets rate
    psql_super -c "CHECKPOINT"
    local before=$(cpu "$server_pid")
    BENCH_TOKEN=$writer BENCH_FORMAT=lp BENCH_BATCH=5000 BENCH_TIME_BASE=$time_base BENCH_RUN=$run \
        wrk -t2 -c8 -d"${duration}s" --timeout 30s -s bench/ingest.lua "$base" >"$state/wrk.txt"
    local ticks=$(($(cpu "$server_pid") - before))
    run=$((run + 1))
    eval "$(grep '^RESULT' "$state/wrk.txt" | sed 's/^RESULT //')"
    rate=$(((requests - non2xx - socket_errors) * 5000 * 1000000 / duration_us))
    local points=$(((requests - non2xx - socket_errors) * 5000))
    printf '%-16s %8d points/s  p50 %s ms  p99 %s ms  refused %s  service CPU %s s (%s µs a point)\n' "$1" "$rate" \
        "$p50_ms" "$p99_ms" "$non2xx" "$((ticks / 100))" "$((ticks * 10000 / (points > 0 ? points : 1)))"
}
with_subscribers() {  # LABEL: one run with the 100 streams open, read by the cheapest client
    python3 bench/stream_clients.py drain "$base" bench "$viewer" 100 $((duration + 4)) >"$state/sub.json" &
    local subscribers=$!
    sleep 2
    ingest "$1"
    wait "$subscribers" 2>/dev/null || true
    echo "                 subscribers received $(cat "$state/sub.json")"
}

echo "== 1. ingest with 0 and with 100 SSE subscribers (${duration} s runs)"
ingest warm-up >/dev/null
ratios=()
for ((i = 0; i < rounds; i++)); do
    ingest "0 subscribers"
    without=$rate
    with_subscribers "100 subscribers"
    ratios+=("$(python3 -c "print(round(100 * $rate / $without, 1))")")
done
ingest "0 subscribers"
echo "with / without (each against the run before it): ${ratios[*]} %"
python3 -c "import statistics; print('mean:', round(statistics.mean([$(IFS=,; echo "${ratios[*]}")]), 1), '%')"

echo "== 2. delivery at 50,000 points/s to 100 SSE subscribers (${lag_seconds} s)"
python3 bench/stream_clients.py subscribe "$base" bench "$viewer" 100 $((lag_seconds + 5)) >"$state/lag.json" &
subscribers=$!
sleep 2
python3 bench/stream_clients.py write "$base" bench "$writer" 50000 "$lag_seconds"
wait "$subscribers"
echo "delay (arrival - point time): $(cat "$state/lag.json")"

echo "== 3. memory with 1,000 idle streams"
rss() { awk '/VmRSS/ {print $2}' "/proc/$server_pid/status"; }
sleep 5
before=$(rss)
mkfifo "$state/hold"
python3 bench/stream_clients.py idle "$base" bench "$viewer" 1000 <"$state/hold" >"$state/idle.txt" &
idle_clients=$!
exec 7>"$state/hold"
for _ in $(seq 1 120); do grep -q "^open" "$state/idle.txt" 2>/dev/null && break; sleep 1; done
sleep 5
after=$(rss)
echo "resident set: ${before} KiB before, ${after} KiB with $(cat "$state/idle.txt") idle streams;" \
    "$(((after - before) / 1000)) KiB a stream"
exec 7>&-
wait "$idle_clients" 2>/dev/null || true
