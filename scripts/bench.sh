#!/usr/bin/env bash
# Benchmarks the registry API on this machine, with the database, the service and
# the load generators all on it. Prints the figures; BENCHMARKS.md records them.
#
#   scripts/bench.sh            (about 2 minutes after the release build)
#   BENCH_BINARY=/path/to/millwright scripts/bench.sh   (another build, e.g. an older commit's)
#
# - token verification: first sight and seen-before cost per token (millwright-bench)
# - GET /healthz at 1,000 requests/s: the floor of HTTP and load generator, same run
# - GET /devices/{id} at a fixed 1,000 requests/s (hey), with a token on every request
# - GET /devices/{id} and POST /devices at full load (wrk, 16 connections)
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
for tool in wrk hey; do
    command -v "$tool" >/dev/null || { apt-get install -y -qq "$tool" >/dev/null 2>&1 || sudo apt-get install -y -qq "$tool"; }
done
duration=${BENCH_DURATION:-15}

port=${BENCH_PORT:-18090}
swift build -c release --product millwright-bench >&2
bin=$(swift build -c release --show-bin-path)

source scripts/throwaway-services.sh
service=$(bench_binary)
throwaway_services millwright-bench "${BENCH_DB_PORT:-31359}"
throwaway_service "$service" "$port"

token() { issuer_token "$issuer" "$@"; }
admin=$(token platform-admin)
curl -sf -o /dev/null -X POST "$base/api/v1/tenants" -H "Authorization: Bearer $admin" -H 'Content-Type: application/json' \
    -d '{"id": "bench", "name": "Bench", "device_limit": 10000000}'
tenant_admin=$(token tenant-admin bench)
python3 - "$base" "$tenant_admin" <<'PY'
import json, sys, urllib.request
base, token = sys.argv[1], sys.argv[2]
devices = [{"id": f"dev-{i:03d}", "labels": {"line": "A" if i % 2 else "B"},
            "sensors": [{"key": f"s{j}", "kind": "number"} for j in range(10)]} for i in range(100)]
request = urllib.request.Request(f"{base}/api/v1/tenants/bench/devices/batch", data=json.dumps({"devices": devices}).encode(),
                                 headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
urllib.request.urlopen(request).read()
PY

bench_machine "$service"
echo "== token verification (millwright-bench)"
"$bin/millwright-bench" "$issuer" 200000 2>/dev/null

echo "== baseline: GET /healthz at a fixed 1,000 requests/s for ${duration}s (no token, no database: the HTTP and load-generator floor)"
hey -z "${duration}s" -c 4 -q 250 "$base/healthz" >"$state/hey-health.txt"
awk '/Requests\/sec/ {print "requests/s: " $2} / 50% in/ {printf "p50: %.2f ms\n", $3 * 1000} / 99% in/ {printf "p99: %.2f ms\n", $3 * 1000}' "$state/hey-health.txt"

url="$base/api/v1/tenants/bench/devices/dev-042"
curl -sf -o /dev/null "$url" -H "Authorization: Bearer $tenant_admin"
echo "== GET /devices/{id} at a fixed 1,000 requests/s for ${duration}s (hey -c 4 -q 250)"
hey -z "${duration}s" -c 4 -q 250 -H "Authorization: Bearer $tenant_admin" "$url" >"$state/hey.txt"
awk '/Requests\/sec/ {print "requests/s: " $2} / 50% in/ {printf "p50: %.2f ms\n", $3 * 1000} / 99% in/ {printf "p99: %.2f ms\n", $3 * 1000}' "$state/hey.txt"
grep -E "^\s+\[[0-9]+\]" "$state/hey.txt" | sed 's/^/status /'

echo "== GET /devices/{id} at full load for ${duration}s (wrk -t2 -c16)"
if [[ -n "${BENCH_PROFILE:-}" ]]; then  # where the service's time goes, under this load
    perf record -F 999 -g -p "$server_pid" -o "$BENCH_PROFILE" -- sleep "$duration" >/dev/null 2>&1 &
    perf_pid=$!
fi
wrk -t2 -c16 -d"${duration}s" --latency -H "Authorization: Bearer $tenant_admin" "$url" >"$state/wrk-get.txt"
[[ -n "${perf_pid:-}" ]] && wait "$perf_pid"
awk '/Requests\/sec/ {print "requests/s: " $2} /^ +50%/ {print "p50: " $2} /^ +99%/ {print "p99: " $2} /Non-2xx/ {print}' "$state/wrk-get.txt"

echo "== POST /devices at full load for ${duration}s (wrk -t2 -c16, a new device per request)"
BENCH_TOKEN=$tenant_admin wrk -t2 -c16 -d"${duration}s" --latency -s bench/post-device.lua \
    "$base/api/v1/tenants/bench/devices" >"$state/wrk-post.txt"
awk '/Requests\/sec/ {print "requests/s: " $2} /^ +50%/ {print "p50: " $2} /^ +99%/ {print "p99: " $2} /non-2xx/ {print}' "$state/wrk-post.txt"

echo "== service memory: $(ps -o rss= -p "$server_pid" | awk '{printf "%.0f MiB RSS", $1 / 1024}')"
