"""The real Prometheus scrapes the running service and reads its series back.

    python3 Tests/prometheus/prometheus_test.py METRICS_PORT API_PORT

Run after traffic (the test command runs it after schemathesis, the InfluxDB client and
the NGINX test). Checks: the target is up; the series the issue names exist with values
(HTTP requests and durations by route template, ingest points by format, writer queue
and flushes, pool connections, JWKS fetches, token rejections, devices by status, build
info); no series
carries a raw path or an id as a label; every query of the Grafana dashboard runs; the
public port does not serve /metrics.
"""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

metrics_port, api_port = int(sys.argv[1]), int(sys.argv[2])
failures = []


def check(condition, message):
    if not condition:
        failures.append(message)
        print(f"FAIL: {message}", file=sys.stderr)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


work = tempfile.mkdtemp(prefix="millwright-prometheus-")
port = free_port()
with open(f"{work}/prometheus.yml", "w") as f:
    f.write(f"""global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files: ["{os.path.abspath('deploy/prometheus/alerts.yml')}"]
scrape_configs:
  - job_name: millwright
    static_configs: [{{targets: ["127.0.0.1:{metrics_port}"]}}]
""")
prometheus = subprocess.Popen(
    ["prometheus", f"--config.file={work}/prometheus.yml", f"--storage.tsdb.path={work}/data",
     f"--web.listen-address=127.0.0.1:{port}"], stdout=subprocess.DEVNULL, stderr=open(f"{work}/prometheus.log", "w"))


def query(expr):
    url = f"http://127.0.0.1:{port}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    answer = json.load(urllib.request.urlopen(url, timeout=10))
    if answer.get("status") != "success":
        raise RuntimeError(f"{expr}: {answer}")
    return answer["data"]["result"]


try:
    up = []
    for _ in range(100):
        try:
            up = query('up{job="millwright"}')
            if up and up[0]["value"][1] == "1":
                break
        except Exception:
            pass
        time.sleep(0.3)
    check(up and up[0]["value"][1] == "1", f"the service's metrics target is up: {up}")
    time.sleep(2)  # a few scrapes

    def total(expr):
        return sum(float(sample["value"][1]) for sample in query(expr))

    check(total('sum(millwright_http_requests_total)') > 100, "HTTP requests are counted")
    routes = {sample["metric"].get("route") for sample in query("millwright_http_requests_total")}
    check("/api/v1/tenants/{tenant}/devices/{device}" in routes, f"routes are templates: {sorted(routes)[:5]}")
    check(all(r == "-" or r.startswith("/") and "demo" not in r and "press-01" not in r for r in routes),
          "no raw path or id in the route label")
    check(total('sum(millwright_http_request_duration_seconds_count)') > 100, "request durations are recorded")
    check(len(query('histogram_quantile(0.95, sum by (le) (rate(millwright_http_request_duration_seconds_bucket[1m])))')) == 1,
          "a latency quantile can be computed")
    formats = {sample["metric"]["format"] for sample in query("millwright_ingest_points_total")}
    check({"json", "line_protocol", "influx_v2"} <= formats, f"ingest points by format: {formats}")
    check(total("sum(millwright_ingest_points_rejected_total)") > 0, "refused points are counted by reason")
    check(total("sum(millwright_writer_flush_duration_seconds_count)") > 0, "writer flushes are timed")
    check(total("sum(millwright_writer_flush_points_count)") > 0, "points per flush are recorded")
    check(len(query("millwright_writer_queue_points")) == 1 and len(query("millwright_writer_queue_capacity_bytes")) == 1,
          "writer queue gauges")
    pools = {(s["metric"]["pool"], s["metric"]["state"]) for s in query("millwright_db_pool_connections")}
    check({("api", "idle"), ("api", "in_use"), ("writer", "idle")} <= pools, f"pool connections: {pools}")
    check(total('sum(millwright_jwks_fetches_total{outcome="ok"})') >= 1, "JWKS fetches are counted per issuer")
    check(total("sum(millwright_token_rejections_total)") >= 1, "token rejections are counted by reason")
    check(len(query('millwright_build_info{version!=""}')) == 1, "build info")
    # Live streams (the NGINX test opened an SSE and a WebSocket stream on this replica).
    check({s["metric"]["kind"] for s in query("millwright_streams_open")} >= {"device"}, "open streams by kind")
    check(total('sum(millwright_stream_events_sent_total{kind="device"})') >= 2, "stream events sent by kind")
    check(("streams", "idle") in pools or ("streams", "in_use") in pools, f"the streams' pool: {pools}")
    statuses = {sample["metric"]["status"]: float(sample["value"][1]) for sample in query("millwright_devices")}
    check(set(statuses) == {"online", "offline", "never_seen"} and statuses["online"] >= 1,
          f"devices by status: {statuses}")
    # Storage jobs: the service's maintenance on both engines; on TimescaleDB every job on
    # the points tables, as TimescaleDB itself reports it (read as the owner before and
    # after the scrape, until the two reads agree), and the alert pending exactly when one
    # of them failed its last run.
    maintenance = query('millwright_storage_job_last_run_ok{storage_job="maintenance"}')
    check(len(maintenance) == 1 and maintenance[0]["value"][1] == "1", f"maintenance reports its last run: {maintenance}")
    owner_url = os.environ["MILLWRIGHT_TEST_OWNER_DATABASE_URL"]

    def job_stats():
        sql = ("SELECT coalesce(string_agg(j.proc_name || ':' || j.hypertable_name || '=' "
               "|| (s.last_run_status IS DISTINCT FROM 'Failed')::int || '/' || coalesce(s.total_failures, 0), ',' ORDER BY 1), '') "
               "FROM timescaledb_information.jobs j LEFT JOIN timescaledb_information.job_stats s USING (job_id) "
               "WHERE j.hypertable_schema = 'millwright_metrics'")
        out = subprocess.run(["psql", owner_url, "-qtAX", "-c", "SELECT to_regclass('timescaledb_information.jobs') IS NOT NULL"],
                             capture_output=True, text=True, check=True).stdout.strip()
        if out != "t":
            return {}
        text = subprocess.run(["psql", owner_url, "-qtAX", "-c", sql], capture_output=True, text=True, check=True).stdout.strip()
        return dict(item.split("=") for item in text.split(",") if item)

    for _ in range(10):
        before = job_stats()
        time.sleep(2.5)  # a scrape and a rule evaluation after the read
        scraped = {sample["metric"]["storage_job"]: sample["value"][1]
                   for sample in query('millwright_storage_job_last_run_ok{storage_job!="maintenance"}')}
        failed_runs = {sample["metric"]["storage_job"]: sample["value"][1]
                       for sample in query('millwright_storage_job_failures{storage_job!="maintenance"}')}
        alerting = {sample["metric"]["storage_job"] for sample in query('ALERTS{alertname="MillwrightStorageJobFailing"}')}
        if job_stats() == before:
            break
    expected = {job: value.split("/")[0] for job, value in before.items()}
    check(scraped == expected, f"storage jobs' last runs as TimescaleDB reports them: {scraped} vs {expected}")
    check(failed_runs == {job: value.split("/")[1] for job, value in before.items()},
          f"storage jobs' failures as TimescaleDB counts them: {failed_runs} vs {before}")
    check(alerting == {job for job, ok in expected.items() if ok == "0"},
          f"MillwrightStorageJobFailing is pending for exactly the failing jobs: {alerting} vs {expected}")
    if before:
        print(f"prometheus: TimescaleDB jobs {before} (job=last run ok/failures)")

    labels = set()
    for sample in query('{__name__=~"millwright_.*"}'):
        labels |= set(sample["metric"]) - {"__name__", "instance", "job"}
    check(labels <= {"route", "method", "status_class", "format", "reason", "path", "pool", "state", "issuer", "outcome", "version", "status", "le", "storage_job", "severity", "kind"},
          f"only bounded labels: {sorted(labels)}")

    dashboard = json.load(open("deploy/grafana/millwright-dashboard.json"))
    # What Grafana's import needs: a title, uid and schemaVersion; the data source as a
    # variable (so it binds to whatever Prometheus the importer picks) used by every
    # panel and target; panels with a grid position and at least one query.
    check(all(dashboard.get(key) for key in ("title", "uid", "schemaVersion")), "dashboard title, uid, schemaVersion")
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    check(variables.get("datasource", {}).get("type") == "datasource"
          and variables["datasource"].get("query") == "prometheus", "the data source is a variable")
    titles = {panel["title"] for panel in dashboard["panels"]}
    for wanted in ("Requests per second by route", "API latency quantiles", "5xx responses",
                   "Ingested points per second by format", "Writer queue", "Database pool", "Token rejections by reason"):
        check(wanted in titles, f"dashboard panel {wanted!r}")
    for panel in dashboard["panels"]:
        check(panel["datasource"]["uid"] == "${datasource}" and set(panel["gridPos"]) == {"x", "y", "w", "h"}
              and panel["targets"] and all(t["datasource"]["uid"] == "${datasource}" for t in panel["targets"]),
              f"dashboard panel {panel['title']!r} is importable")
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            expr = target["expr"].replace("$instance", ".*").replace("$__rate_interval", "1m")
            try:
                query(expr)
            except Exception as error:
                check(False, f"dashboard panel {panel['title']!r}: {error}")
    rules = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/rules"))["data"]["groups"]
    check(rules and all(rule["health"] in ("ok", "unknown") for group in rules for rule in group["rules"]),
          "the alert rules load and evaluate")

    try:
        urllib.request.urlopen(f"http://127.0.0.1:{api_port}/metrics")
        check(False, "the public port serves /metrics")
    except urllib.error.HTTPError as error:
        check(error.code == 404, f"the public port answers /metrics with {error.code}")
finally:
    prometheus.send_signal(signal.SIGTERM)
    try:
        prometheus.wait(10)
    except subprocess.TimeoutExpired:
        prometheus.kill()
    if failures:
        print(open(f"{work}/prometheus.log").read()[-2000:], file=sys.stderr)
    shutil.rmtree(work, ignore_errors=True)

if failures:
    sys.exit(1)
print("prometheus: scraped the service, read back every named series, bounded labels only, dashboard queries and alert rules evaluate, /metrics not on the public port")
