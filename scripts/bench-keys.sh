#!/usr/bin/env bash
# A flood of guessed device keys against one tenant while another tenant's dashboard
# reads devices: how much the flood costs the bystander. Prints p50/p99 of the
# bystander's reads (hey, a fixed 400 requests/s) without and with the flood
# (wrk -t2 -c32, every guess a new key id), and the flood's own rate and answers.
#
#   scripts/bench-keys.sh [SECONDS]         (the release build of this checkout)
#   BENCH_BINARY=path scripts/bench-keys.sh  (another build, e.g. an older commit)
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${1:-15}
for tool in wrk hey; do
    command -v "$tool" >/dev/null || { apt-get install -y -qq "$tool" >/dev/null 2>&1 || sudo apt-get install -y -qq "$tool"; }
done
scripts/install-deps.sh
source scripts/throwaway-services.sh
bin=$(bench_binary)
throwaway_services millwright-bench-keys "${BENCH_DB_PORT:-31351}"
throwaway_service "$bin" "${BENCH_PORT:-18093}"
token() { issuer_token "$issuer" "$@"; }
admin=$(token platform-admin)
for t in bystander flood; do
    curl -sf -o /dev/null -X POST "$base/api/v1/tenants" -H "Authorization: Bearer $admin" -H 'Content-Type: application/json' \
        -d "{\"id\": \"$t\", \"name\": \"$t\"}"
    curl -sf -o /dev/null -X POST "$base/api/v1/tenants/$t/devices" -H "Authorization: Bearer $(token tenant-admin "$t")" \
        -H 'Content-Type: application/json' -d '{"id": "d1"}'
done
viewer=$(token viewer bystander)
url="$base/api/v1/tenants/bystander/devices/d1"
curl -sf -o /dev/null "$url" -H "Authorization: Bearer $viewer"

summary() { awk '/Requests\/sec/ {printf "%s req/s", $2} / 50% in/ {printf ", p50 %.2f ms", $3 * 1000} / 99% in/ {printf ", p99 %.2f ms", $3 * 1000} END {print ""}' "$1"; }
bench_machine "$bin"
echo "== bystander alone: GET /devices/d1 at 400 requests/s for ${duration}s"
hey -z "${duration}s" -c 4 -q 100 -H "Authorization: Bearer $viewer" "$url" >"$state/alone.txt"
echo "   $(summary "$state/alone.txt")"
echo "== bystander during a flood of guessed device keys (wrk -t2 -c32 on tenant flood)"
BENCH_TENANT=flood wrk -t2 -c32 -d"$((duration + 2))s" -s bench/wrong-keys.lua "$base" >"$state/flood.txt" &
flood_pid=$!
sleep 1
hey -z "${duration}s" -c 4 -q 100 -H "Authorization: Bearer $viewer" "$url" >"$state/during.txt"
wait "$flood_pid"
echo "   $(summary "$state/during.txt")"
grep -E "^\s+\[[0-9]+\]" "$state/during.txt" | sed 's/^ */   bystander status /'
awk '/Requests\/sec/ {print "   flood: " $2 " guesses/s"} /Non-2xx/ {print "   flood: " $0}' "$state/flood.txt"
