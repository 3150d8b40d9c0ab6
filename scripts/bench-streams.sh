#!/usr/bin/env bash
# Benchmarks the live streams on this machine (database, service, writers and clients all
# on it) and prints the figures BENCHMARKS.md quotes.
#
#   scripts/bench-streams.sh      (about 12 minutes after the release build; BENCH_ROUNDS=8 rounds)
#
# 1. Ingest with 0 and with 100 SSE subscribers, in the same run: wrk posting line
#    protocol as fast as it can (5,000 points × 8 connections, 100 devices × 100
#    sensors), BENCH_DURATION s a run, alternately without subscribers and with one SSE
#    stream per device open (each receives every point of its device; the clients read
#    and count without parsing, as cheap as a client can be on these shared cores), after
#    a warm-up run not counted. Prints points/s and where the CPU went in each run, and
#    each run with subscribers against the mean of the runs without around it.
# 2. Delivery at 50,000 points/s: a paced writer (a request of 5,000 points every 100
#    ms, each point stamped with its send time) and the 100 subscribers, BENCH_LAG_SECONDS
#    long. Delay = arrival at the subscriber − the point's time, so it also holds the
#    write request's own time (an upper bound of commit-to-delivery). Prints p50, p99, max.
# 3. Memory: the service's resident set before and after opening 1,000 idle streams.
#
# BENCH_BINARY=/path/to/millwright measures another build; BENCH_PROFILE=/tmp/perf.data
# also perf-records the service during each run with subscribers (the last one is kept).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
command -v wrk >/dev/null || { apt-get install -y -qq wrk >/dev/null 2>&1 || sudo apt-get install -y -qq wrk; }
duration=${BENCH_DURATION:-15}
lag_seconds=${BENCH_LAG_SECONDS:-60}
rounds=${BENCH_ROUNDS:-8}
source scripts/throwaway-services.sh
service=$(bench_binary)
throwaway_services millwright-bench-streams "${BENCH_DB_PORT:-31479}"
export MILLWRIGHT_LOG_LEVEL=warning MILLWRIGHT_STREAM_MAX_PER_TENANT=5000 MILLWRIGHT_STREAM_MAX_PER_PRINCIPAL=5000
export MILLWRIGHT_MAX_CONNECTIONS_PER_CLIENT=3000
throwaway_service "$service" "${BENCH_PORT:-18098}"
bench_ingest_setup "$service" '{"id": "bench", "name": "Bench"}' '{}'

run=0
cpu() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }  # user + system, in clock ticks
postgres_cpu() {  # every PostgreSQL process's, those that ended included (the postmaster's children), in clock ticks
    local postmaster=$(head -1 "$state/pg/postmaster.pid") pid
    local total=$(awk '{print $16 + $17}' "/proc/$postmaster/stat")
    for pid in $(pgrep -x postgres); do total=$((total + $(cpu "$pid"))); done
    echo "$total"
}
streams_backends_cpu() {  # the streams' pool's PostgreSQL backends (the follower, replays), in clock ticks
    local total=0 pid
    for pid in $(psql_super -c "SELECT pid FROM pg_stat_activity WHERE application_name = 'millwright-streams'"); do
        total=$((total + $(cpu "$pid")))
    done
    echo "$total"
}
idle_cpu() { awk '/^cpu / {print $5 + $6}' /proc/stat; }  # the machine's idle + iowait, in clock ticks
switches() { awk '/^ctxt / {print $2}' /proc/stat; }  # the machine's context switches
commits() { psql_super -c "SELECT xact_commit FROM pg_stat_database WHERE datname = 'millwright'"; }
subscribers=""
ingest() {  # LABEL: one wrk run; prints points/s and where the CPU went, sets rate
    psql_super -c "CHECKPOINT"
    local before=$(cpu "$server_pid") pg_before=$(postgres_cpu) idle_before=$(idle_cpu) follower_before=$(streams_backends_cpu)
    local switches_before=$(switches) commits_before=$(commits)
    local clients_before=0
    if [[ -n $subscribers ]]; then clients_before=$(cpu "$subscribers"); fi
    BENCH_TOKEN=$writer BENCH_FORMAT=lp BENCH_BATCH=5000 BENCH_TIME_BASE=$time_base BENCH_RUN=$run \
        wrk -t2 -c8 -d"${duration}s" --timeout 30s -s bench/ingest.lua "$base" >"$state/wrk.txt"
    local ticks=$(($(cpu "$server_pid") - before)) pg_ticks=$(($(postgres_cpu) - pg_before))
    local idle_ticks=$(($(idle_cpu) - idle_before)) follower_ticks=$(($(streams_backends_cpu) - follower_before))
    local switched=$(($(switches) - switches_before)) committed=$(($(commits) - commits_before))
    local client_ticks=0
    if [[ -n $subscribers ]]; then client_ticks=$(($(cpu "$subscribers") - clients_before)); fi
    run=$((run + 1))
    eval "$(grep '^RESULT' "$state/wrk.txt" | sed 's/^RESULT //')"
    rate=$(((requests - non2xx - socket_errors) * 5000 * 1000000 / duration_us))
    local points=$(((requests - non2xx - socket_errors) * 5000))
    printf '%-16s %8d points/s  p50 %s ms  p99 %s ms  refused %s\n' "$1" "$rate" "$p50_ms" "$p99_ms" "$non2xx"
    printf '                 CPU s: service %s.%02d (%s ns a point), PostgreSQL %s.%02d (streams %s.%02d), stream clients %s.%02d, idle %s.%02d of %s\n' \
        $((ticks / 100)) $((ticks % 100)) "$((ticks * 10000000 / (points > 0 ? points : 1)))" \
        $((pg_ticks / 100)) $((pg_ticks % 100)) $((follower_ticks / 100)) $((follower_ticks % 100)) \
        $((client_ticks / 100)) $((client_ticks % 100)) \
        $((idle_ticks / 100)) $((idle_ticks % 100)) $(($(nproc) * duration))
    printf '                 %s transactions committed, %s context switches a second\n' "$committed" "$((switched / duration))"
}
with_subscribers() {  # LABEL: one run with the 100 streams open, read by the cheapest client
    python3 bench/stream_clients.py drain "$base" bench "$viewer" 100 $((duration + 4)) >"$state/sub.json" &
    subscribers=$!
    sleep 2
    if [[ -n ${BENCH_PROFILE:-} ]]; then  # the service's profile during the run (the last one's is kept)
        perf record -q -g -p "$server_pid" -o "$BENCH_PROFILE" -- sleep $((duration - 2)) >/dev/null 2>&1 &
    fi
    ingest "$1"
    wait "$subscribers" 2>/dev/null || true
    subscribers=""
    echo "                 subscribers received $(cat "$state/sub.json")"
}

echo "== 1. ingest with 0 and with 100 SSE subscribers (${duration} s runs)"
if [[ $engine == timescaledb ]]; then
    # The rollups' refresh (every minute) works through whatever was written since, at
    # times that fall at random into one run or the other: paused here, it would add the
    # same work to both and only noise to the comparison.
    psql_super -c "SELECT alter_job(job_id, scheduled => false) FROM timescaledb_information.jobs WHERE job_id >= 1000" >/dev/null
    echo "(TimescaleDB's jobs paused for this part)"
fi
ingest warm-up >/dev/null
# Each run with subscribers is compared with the mean of the runs without just before and
# just after it: ingest slows as the tables grow, so against the run before alone, every
# ratio would also carry that trend.
ratios=()
ingest "0 subscribers"
for ((i = 0; i < rounds; i++)); do
    without=$rate
    with_subscribers "100 subscribers"
    with=$rate
    ingest "0 subscribers"
    ratios+=("$(python3 -c "print(round(200 * $with / ($without + $rate), 1))")")
done
echo "with / without (against the mean of the runs before and after it): ${ratios[*]} %"
python3 -c "import statistics; r = [$(IFS=,; echo "${ratios[*]}")]; print('mean:', round(statistics.mean(r), 1), '%  median:', round(statistics.median(r), 1), '%')"
if [[ $engine == timescaledb ]]; then
    psql_super -c "SELECT alter_job(job_id, scheduled => true) FROM timescaledb_information.jobs WHERE job_id >= 1000" >/dev/null
fi

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
