#!/usr/bin/env bash
# Ingest throughput of two builds, alternately in one session (these machines are noisy:
# compare within a run): each round starts a fresh database and service per binary, creates
# 100 devices × 100 sensors and runs wrk with line protocol, 5,000 points × 8 connections
# (the best case of scripts/bench-metrics.sh), every point new (the COPY path).
# BENCH_FORMAT=json sends the same points as JSON instead.
#
#   scripts/bench-ingest-ab.sh BINARY_A BINARY_B [ROUNDS] [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
a=${1:?binary A}
b=${2:?binary B}
rounds=${3:-2}
duration=${4:-15}
format=${BENCH_FORMAT:-lp}
command -v wrk >/dev/null || { apt-get install -y -qq wrk >/dev/null 2>&1 || sudo apt-get install -y -qq wrk; }
scripts/install-deps.sh

one_run() {  # BINARY ROUND
    (
        source scripts/throwaway-services.sh
        throwaway_services millwright-bench-ab "${BENCH_DB_PORT:-31353}"
        throwaway_service "$1" "${BENCH_PORT:-18095}"
        admin=$(issuer_token "$issuer" platform-admin)
        writer=$(issuer_token "$issuer" metrics-writer bench)
        curl -sf -o /dev/null -X POST "$base/api/v1/tenants" -H "Authorization: Bearer $admin" \
            -H 'Content-Type: application/json' -d '{"id": "bench", "name": "Bench"}'
        devices=$(python3 -c 'import json; print(json.dumps({"devices": [{"id": "dev-%03d" % i} for i in range(100)]}))')
        curl -sf -o /dev/null -X POST "$base/api/v1/tenants/bench/devices/batch" \
            -H "Authorization: Bearer $(issuer_token "$issuer" tenant-admin bench)" -H 'Content-Type: application/json' -d "$devices"
        time_base=$((($(date +%s) - 23 * 3600) * 1000000))
        python3 -c "
for d in range(100):
    print('m,device=dev-%03d ' % d + ','.join('s%02d=0' % s for s in range(100)) + ' $((time_base - 1000000))')
" | curl -sf -o /dev/null -X POST "$base/api/v1/tenants/bench/write?precision=us" -H "Authorization: Bearer $writer" --data-binary @-
        BENCH_TOKEN=$writer BENCH_FORMAT=$format BENCH_BATCH=5000 BENCH_TIME_BASE=$time_base BENCH_RUN=0 \
            wrk -t2 -c8 -d"${duration}s" --timeout 30s -s bench/ingest.lua "$base" >"$state/wrk.txt"
        eval "$(grep '^RESULT' "$state/wrk.txt" | sed 's/^RESULT //')"
        acked=$(((requests - non2xx - socket_errors) * 5000))
        python3 -c "print('round $2  %-40s %8d points/s  p50 %s ms  p99 %s ms  refused %s' % ('$1'[-40:], round($acked / ($duration_us / 1e6)), '$p50_ms', '$p99_ms', '$non2xx'))"
    )
}

echo "== machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); format: $format"
for round in $(seq 1 "$rounds"); do
    one_run "$a" "$round"
    one_run "$b" "$round"
done
