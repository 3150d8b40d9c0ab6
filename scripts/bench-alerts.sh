#!/usr/bin/env bash
# Benchmarks alerting on this machine (database, service, load and receiver all on it)
# and prints the figures BENCHMARKS.md quotes.
#
#   scripts/bench-alerts.sh      (about 6 minutes after the release build)
#
# 1. Ingest with and without rules, in the same run: 100 devices × 100 sensors (10,000
#    series), line protocol, 5,000 points × 8 connections (wrk), alternately with no
#    rule enabled, with 1,000 rules on one series each (10 sensors of every device: a
#    tenth of the points evaluated), and with 1,000 label-selector rules (100 sensor keys
#    × 10 device groups: every series watched by exactly one rule, every point
#    evaluated), each run BENCH_DURATION s, runs with rules between runs without, after
#    a warm-up run not counted. The rules never fire. After each run the evaluator's
#    backlog is drained before the next.
# 2. Commit-to-notification lag: 2,000 points/s (20 requests of 100 random series each
#    second, BENCH_LAG_SECONDS long), the 1,000 selector rules firing above 50 with 1 %
#    of the points hot, to 10 channels on a local receiver. Lag = arrival of the webhook -
#    the point time in it (the generator stamps each point when it sends it, so the
#    figure also holds the request's own time). Prints p50, p99 and max.
#
# BENCH_BINARY=/path/to/millwright measures another build.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
command -v wrk >/dev/null || { apt-get install -y -qq wrk >/dev/null 2>&1 || sudo apt-get install -y -qq wrk; }
duration=${BENCH_DURATION:-15}
lag_seconds=${BENCH_LAG_SECONDS:-60}

source scripts/throwaway-services.sh
service=$(bench_binary)
throwaway_services millwright-bench-alerts "${BENCH_DB_PORT:-31377}"
export MILLWRIGHT_WEBHOOK_ALLOW_PRIVATE=true MILLWRIGHT_LOG_LEVEL=warning
throwaway_service "$service" "${BENCH_PORT:-18097}"
owner="postgresql://millwright_owner@127.0.0.1:$db_port/millwright"
psql_owner() { psql "$owner" -v ON_ERROR_STOP=1 -qtAX "$@"; }
bench_ingest_setup "$service" '{"id": "bench", "name": "Bench", "alert_rule_limit": 2000}' "{'group': str(i % 10)}"

# A receiver for the lag run, and the 10 channels and 1,000 rules (through the API).
python3 - "$state/receiver.port" "$state/received.txt" <<'PY' &
import json, sys, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
out = open(sys.argv[2], "a", buffering=1)
class Receiver(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        arrived = time.time()
        self.send_response(204)
        self.end_headers()
        event = json.loads(body)
        out.write(f"{arrived:.6f} {event['time']} {event['event']}\n")
    def log_message(self, *args):
        pass
server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
open(sys.argv[1], "w").write(str(server.server_address[1]))
server.serve_forever()
PY
receiver_pid=$!
trap 'kill $receiver_pid 2>/dev/null; throwaway_cleanup' EXIT
wait_for "the receiver" 30 /dev/null "$receiver_pid" -- test -s "$state/receiver.port"
python3 - "$base" "$tenant_admin" "http://127.0.0.1:$(cat "$state/receiver.port")" <<'PY'
import json, sys, urllib.request
base, token, hook = sys.argv[1:4]
def post(path, body):
    request = urllib.request.Request(base + path, data=json.dumps(body).encode(), method="POST",
                                     headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    return json.load(urllib.request.urlopen(request))
channels = [post("/api/v1/tenants/bench/notification-channels", {"name": f"c{g}", "url": f"{hook}/c{g}"})["id"] for g in range(10)]
for s in range(100):
    for g in range(10):
        post("/api/v1/tenants/bench/alert-rules", {
            "name": f"selector m.s{s:02d} group {g}", "selector": {"labels": {"group": str(g)}}, "sensor": f"m.s{s:02d}",
            "condition": {"type": "threshold", "operator": "above", "value": 1e9}, "channels": [channels[g]]})
for d in range(100):
    for s in range(10):
        post("/api/v1/tenants/bench/alert-rules", {
            "name": f"single dev-{d:03d} m.s{s:02d}", "device": f"dev-{d:03d}", "sensor": f"m.s{s:02d}",
            "condition": {"type": "threshold", "operator": "above", "value": 1e9}, "channels": [channels[d % 10]]})
PY
echo "== 2 × 1,000 rules (on single series; by label selector over all 10,000 series), 10 channels"
rules() {  # none | single | selector: which 1,000 rules are enabled
    psql_owner -c "SET millwright.tenant_id = 'bench'" \
        -c "UPDATE millwright.alert_rules SET enabled = ('$1' <> 'none' AND name LIKE '$1 %')" >/dev/null
}
drain() {  # waits until the evaluator has taken every committed row
    local started=$SECONDS
    until [[ $(psql_owner -c "SELECT count(*) FROM millwright_metrics.point_commits") == 0 ]]; do
        sleep 0.5
        ((SECONDS - started < 600)) || { echo "the evaluator did not drain in 10 minutes" >&2; exit 1; }
    done
    echo $((SECONDS - started))
}

run=0
ingest() {  # LABEL: one wrk run; prints points/s
    psql_super -c "CHECKPOINT"
    BENCH_TOKEN=$writer BENCH_FORMAT=lp BENCH_BATCH=5000 BENCH_TIME_BASE=$time_base BENCH_RUN=$run \
        wrk -t2 -c8 -d"${duration}s" --timeout 30s -s bench/ingest.lua "$base" >"$state/wrk.txt"
    run=$((run + 1))
    eval "$(grep '^RESULT' "$state/wrk.txt" | sed 's/^RESULT //')"
    local acked=$(((requests - non2xx - socket_errors) * 5000))
    local rate=$((acked * 1000000 / duration_us))
    local waited
    waited=$(drain)
    printf '%-10s %8d points/s  p50 %s ms  p99 %s ms  refused %s  (evaluator drained %s s after)\n' \
        "$1" "$rate" "$p50_ms" "$p99_ms" "$non2xx" "$waited" >&2
    echo "$rate"
}
# The points table grows with every run and each run is slower than the one before
# (the growth, not the rules: see BENCHMARKS.md), so runs with rules sit between runs
# without, and each is compared with the mean of its two neighbours.
order=(none single none selector none single none selector none single none selector none)
# A first run into empty chunks is twice as fast as any after it: warm up, not counted.
rules none
ingest warm-up >/dev/null
rates=()
for config in "${order[@]}"; do
    rules "$config"
    rates+=("$(ingest "$config")")
done
python3 -c "
order = '${order[*]}'.split()
rates = [$(IFS=,; echo "${rates[*]}")]
ratios = {'single': [], 'selector': []}
for i, config in enumerate(order):
    if config != 'none':
        ratios[config].append(rates[i] / ((rates[i - 1] + rates[i + 1]) / 2))
mean = lambda xs: sum(xs) / len(xs)
print(f'ingest, each run with rules against the mean of the runs without on either side: '
      f'1,000 single-series rules {100 * mean(ratios[\"single\"]):.1f} % '
      f'({\", \".join(f\"{100 * r:.1f} %\" for r in ratios[\"single\"])}), '
      f'1,000 selector rules watching every series {100 * mean(ratios[\"selector\"]):.1f} % '
      f'({\", \".join(f\"{100 * r:.1f} %\" for r in ratios[\"selector\"])})')"

# Lag: the 1,000 selector rules, firing above 50; 2,000 points/s, 1 % of them hot.
rules selector
# Through SQL, so the version moves as an API change would (the evaluator caches rules by version).
psql_owner -c "SET millwright.tenant_id = 'bench'" -c "UPDATE millwright.alert_rules SET low = 50, version = version + 1" >/dev/null
: >"$state/received.txt"
lag_started=$(date +%s.%N)
python3 - "$base" "$writer" "$lag_seconds" <<'PY'
import json, random, sys, time, urllib.request
from datetime import datetime, timezone
base, token, seconds = sys.argv[1], sys.argv[2], int(sys.argv[3])
random.seed(7)
start = time.time()
sent = 0
while time.time() - start < seconds:
    tick = time.time()
    for _ in range(20):
        now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        points = [{"device": "dev-%03d" % random.randrange(100), "sensor": "m.s%02d" % random.randrange(100), "time": now,
                   "value": 100 if random.random() < 0.01 else 20} for _ in range(100)]
        # One point per series per request (a repeated series at one time would be one point).
        unique = {(p["device"], p["sensor"]): p for p in points}
        request = urllib.request.Request(f"{base}/api/v1/tenants/bench/metrics", data=json.dumps({"points": list(unique.values())}).encode(),
                                         headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
        urllib.request.urlopen(request).read()
        sent += len(unique)
    time.sleep(max(0, 1 - (time.time() - tick)))
print(f"lag run: {sent} points in {time.time() - start:.0f} s ({sent / (time.time() - start):,.0f} points/s)")
PY
sleep 5
python3 - "$state/received.txt" "$lag_started" <<'PY'
import sys
from datetime import datetime
lags = []
earlier = 0
for line in open(sys.argv[1]):
    arrived, at, _ = line.split()
    point = datetime.strptime(at, "%Y-%m-%dT%H:%M:%S.%fZ").timestamp() - datetime(1970, 1, 1).timestamp()
    if point < float(sys.argv[2]):
        earlier += 1  # a point from before the lag run: none should fire (the ingest runs' never do)
        continue
    lags.append(float(arrived) - point)
lags.sort()
if earlier:
    print(f"{earlier} notifications for points from before the lag run: something evaluated old points")
if not lags:
    sys.exit("no notifications arrived")
q = lambda p: lags[min(len(lags) - 1, int(p * len(lags)))]
print(f"commit-to-notification lag over {len(lags)} notifications: p50 {q(0.5) * 1000:.0f} ms, p99 {q(0.99) * 1000:.0f} ms, max {lags[-1] * 1000:.0f} ms")
PY
