#!/usr/bin/env bash
# What operations cost, measured in one run on this machine (database, services, nginx
# and wrk together), written to bench/results/ops.md (BENCHMARKS.md quotes it):
#
# - the service as shipped (JSON access logs at info, Prometheus metrics) against the
#   same binary with MILLWRIGHT_LOG_LEVEL=warning and MILLWRIGHT_METRICS_ENABLED=false:
#   the cost of the instrumentation (aim: at most 5 % of throughput);
# - the instrumented service directly against through deploy/nginx/millwright.conf with
#   TLS (nginx_local.py; the rate limits lifted, or they would be what is measured).
#
# Workloads: GET /devices/{id} (wrk -t2 -c16) and JSON ingest, 1,000 points × 8
# connections. Each measurement runs three times, interleaved (A B N A B N A B N), to see the noise.
#
#   scripts/bench-ops.sh      (about 6 minutes after the release build)
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
command -v wrk >/dev/null || { apt-get install -y -qq wrk >/dev/null 2>&1 || sudo apt-get install -y -qq wrk; }
duration=${BENCH_DURATION:-10}
swift build -c release --product millwright >&2
bin=$(swift build -c release --show-bin-path)

source scripts/throwaway-services.sh
throwaway_services millwright-bench-ops "${BENCH_DB_PORT:-31379}"
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# A: as shipped (JSON at info, metrics on); B: logs at warning, metrics off.
plain_port=$(free_port)
MILLWRIGHT_LOG_LEVEL=warning MILLWRIGHT_METRICS_ENABLED=false throwaway_service "$bin/millwright" "$plain_port"
plain_pid=$server_pid
plain_base=$base
instrumented_port=$(free_port)
MILLWRIGHT_LOG_LEVEL=info MILLWRIGHT_LOG_FORMAT=json MILLWRIGHT_METRICS_PORT=$(free_port) MILLWRIGHT_TRUSTED_PROXIES=127.0.0.1 \
    throwaway_service "$bin/millwright" "$instrumented_port"
instrumented_base=$base
https_port=$(free_port)
mkdir -p "$state/nginx"
python3 dev/nginx_local.py --service-port "$instrumented_port" --http-port "$(free_port)" --https-port "$https_port" \
    --work "$state/nginx" --unlimited-rates &
nginx_pid=$!
trap 'kill $nginx_pid $plain_pid 2>/dev/null || true; throwaway_cleanup' EXIT
nginx_base="https://127.0.0.1:$https_port"
wait_for "NGINX at $nginx_base" 60 - "$nginx_pid" -- curl -skf "$nginx_base/healthz" -H 'Host: millwright.example.com'

token() { issuer_token "$issuer" "$@"; }
admin=$(token platform-admin)
curl -sf -o /dev/null -X POST "$plain_base/api/v1/tenants" -H "Authorization: Bearer $admin" -H 'Content-Type: application/json' \
    -d '{"id": "bench", "name": "Bench"}'
tenant_admin=$(token tenant-admin bench)
writer=$(token metrics-writer bench)
python3 - "$plain_base" "$tenant_admin" <<'PY'
import json, sys, urllib.request
base, token = sys.argv[1], sys.argv[2]
devices = [{"id": f"dev-{i:03d}"} for i in range(100)]
request = urllib.request.Request(f"{base}/api/v1/tenants/bench/devices/batch", data=json.dumps({"devices": devices}).encode(),
                                 headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
urllib.request.urlopen(request).read()
PY
time_base=$((($(date +%s) - 23 * 3600) * 1000000))

measure() {  # label base: prints "get_rps get_p99 ingest_pps ingest_p99"
    local base=$1 run=$2
    wrk -t2 -c16 -d"${duration}s" --latency -H "Authorization: Bearer $tenant_admin" -H 'Host: millwright.example.com' \
        "$base/api/v1/tenants/bench/devices/dev-042" >"$state/get.txt"
    local get_rps get_p99
    get_rps=$(awk '/Requests\/sec/ {print $2}' "$state/get.txt")
    get_p99=$(awk '/^ +99%/ {print $2}' "$state/get.txt")
    BENCH_TOKEN=$writer BENCH_FORMAT=json BENCH_BATCH=1000 BENCH_TIME_BASE=$time_base BENCH_RUN=$run \
        wrk -t2 -c8 -d"${duration}s" -s bench/ingest.lua -H 'Host: millwright.example.com' "$base" >"$state/ingest.txt"
    eval "$(grep '^RESULT' "$state/ingest.txt" | sed 's/^RESULT //')"
    echo "$get_rps $get_p99 $(python3 -c "print(round(($requests - $non2xx) * 1000 / ($duration_us / 1e6)))") ${p99_ms}ms"
}

results=bench/results/ops.md
mkdir -p bench/results
{
    echo "# Operations benchmark"
    echo
    echo "$(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)); command \`scripts/bench-ops.sh\` (${duration} s per measurement)."
    echo
    echo "| round | service | GET /devices/{id} req/s | GET p99 | JSON ingest points/s (1,000 × 8) | ingest p99 |"
    echo "|---|---|---|---|---|---|"
} >"$results"
run=0
for round in 1 2 3; do
    for target in plain instrumented nginx; do
        case $target in
        plain) base=$plain_base label="logs at warning, metrics off" ;;
        instrumented) base=$instrumented_base label="as shipped: JSON logs at info, metrics on" ;;
        nginx) base=$nginx_base label="as shipped, through NGINX with TLS" ;;
        esac
        # wrk does not check the self-signed certificate; the Host header names the server.
        read -r get_rps get_p99 ingest_pps ingest_p99 <<<"$(measure "$base" "$run")"
        echo "| $round | $label | $get_rps | $get_p99 | $ingest_pps | $ingest_p99 |" >>"$results"
        echo "round $round $target: GET $get_rps req/s (p99 $get_p99), ingest $ingest_pps points/s (p99 $ingest_p99)" >&2
        run=$((run + 1))
    done
done
cat "$results"
