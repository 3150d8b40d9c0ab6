"""deploy/nginx/millwright.conf in front of the running service, with the real nginx.

    python3 Tests/nginx/nginx_test.py SERVICE_PORT ISSUER_URL SERVICE_LOG

The configuration is used as shipped, templated only for ports, the upstream port,
certificate paths (a self-signed certificate) and the ACME webroot (dev/nginx_local.py). The
service must run with MILLWRIGHT_TRUSTED_PROXIES=127.0.0.1 and log JSON to SERVICE_LOG.
Proves: HTTPS end to end (authentication, CRUD, ingestion); HTTP redirects except the
ACME path; bodies over the limit get 413 from nginx without reaching the service; a burst
gets 429 while another client is unaffected; the request id and the real client address
reach the service's log; Location headers carry https and the public host; /metrics is
not exposed.
"""
import http.client
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid

service_port, issuer, service_log = int(sys.argv[1]), sys.argv[2], sys.argv[3]
failures = []
HOST = "millwright.example.com"  # the configuration's server_name


def check(condition, message):
    if not condition:
        failures.append(message)
        print(f"FAIL: {message}", file=sys.stderr)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def token(roles, tenant=None):
    url = f"{issuer}/token?roles={roles}" + (f"&tenant={tenant}" if tenant else "")
    return json.load(urllib.request.urlopen(url))["access_token"]


sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../dev"))
import nginx_local  # noqa: E402  (the shared templating of deploy/nginx/millwright.conf)

work = tempfile.mkdtemp(prefix="millwright-nginx-")
os.chmod(work, 0o755)
http_port, https_port = free_port(), free_port()
nginx, cert, webroot = nginx_local.start(work, service_port, http_port, https_port)
with open(f"{webroot}/.well-known/acme-challenge/challenge-token", "w") as f:
    f.write("challenge-response")
tls = ssl.create_default_context(cafile=cert)


def request(method, path, headers=None, body=None, source="127.0.0.1", scheme="https"):
    """One request on a connection of its own from `source`, HTTPS checked against HOST."""
    port = https_port if scheme == "https" else http_port
    sock = socket.create_connection(("127.0.0.1", port), 30, (source, 0))
    if scheme == "https":
        sock = tls.wrap_socket(sock, server_hostname=HOST)
    connection = http.client.HTTPConnection(HOST, port, timeout=30)
    connection.sock = sock
    all_headers = {"Host": HOST}
    all_headers.update(headers or {})
    connection.request(method, path, body=body, headers=all_headers)
    response = connection.getresponse()
    data = response.read()
    connection.close()
    return response.status, {k.lower(): v for k, v in response.getheaders()}, data


try:
    for _ in range(50):
        try:
            socket.create_connection(("127.0.0.1", https_port), 1).close()
            break
        except OSError:
            time.sleep(0.1)

    admin = token("platform-admin")
    tenant = "edge-" + uuid.uuid4().hex[:8]
    status, headers, _ = request("POST", "/api/v1/tenants", {"Authorization": f"Bearer {admin}", "Content-Type": "application/json"},
                                 json.dumps({"id": tenant, "name": "Through NGINX"}))
    check(status == 201, f"create tenant over HTTPS: {status}")
    check(headers.get("location") == f"https://{HOST}/api/v1/tenants/{tenant}", f"Location: {headers.get('location')}")
    tenant_admin = token("tenant-admin", tenant)
    auth = {"Authorization": f"Bearer {tenant_admin}"}
    status, headers, _ = request("POST", f"/api/v1/tenants/{tenant}/devices", {**auth, "Content-Type": "application/json"},
                                 json.dumps({"id": "press-01"}))
    check(status == 201 and headers.get("location", "").startswith(f"https://{HOST}/"), f"create device: {status} {headers.get('location')}")
    status, _, _ = request("GET", f"/api/v1/tenants/{tenant}/devices/press-01", auth)
    check(status == 200, f"read device: {status}")
    status, _, _ = request("POST", f"/api/v1/tenants/{tenant}/write", {**auth, "Content-Type": "text/plain"}, "m,device=press-01 v=1.5")
    check(status == 204, f"line protocol through NGINX: {status}")
    status, _, body = request("POST", f"/api/v1/tenants/{tenant}/metrics", {**auth, "Content-Type": "application/json"},
                              json.dumps({"points": [{"device": "press-01", "sensor": "temperature", "value": 21.5}]}))
    check(status == 200 and json.loads(body) == {"accepted": 1}, f"JSON ingest through NGINX: {status} {body[:100]}")
    status, _, body = request("GET", f"/api/v1/tenants/{tenant}/devices/press-01/latest", auth)
    values = {s["sensor"]: s["value"] for s in json.loads(body)["sensors"]} if status == 200 else {}
    check(values == {"m.v": 1.5, "temperature": 21.5}, f"latest: {status} {body[:200]}")
    status, _, _ = request("GET", f"/api/v1/tenants/{tenant}/devices", {"Authorization": "Bearer not-a-token"})
    check(status == 401, f"a bad token is refused through NGINX: {status}")

    # Plain HTTP redirects; the ACME challenge does not.
    status, headers, _ = request("GET", f"/api/v1/tenants/{tenant}?x=1", scheme="http")
    check(status == 301 and headers.get("location") == f"https://{HOST}/api/v1/tenants/{tenant}?x=1",
          f"HTTP redirect: {status} {headers.get('location')}")
    status, _, body = request("GET", "/.well-known/acme-challenge/challenge-token", scheme="http")
    check(status == 200 and body == b"challenge-response", f"ACME path: {status} {body[:60]}")

    # Over the limit: 413 from NGINX, and the service never sees the request.
    big_id = "too-big-" + uuid.uuid4().hex
    status, headers, body = request("POST", f"/api/v1/tenants/{tenant}/devices",
                                    {**auth, "Content-Type": "application/json", "X-Request-ID": big_id}, b"x" * (1536 * 1024))
    check(status == 413 and headers.get("content-type") == "application/problem+json", f"1.5 MiB device body: {status}")
    check(json.loads(body).get("code") == "body_too_large", f"413 body: {body[:120]}")
    influx_status, influx_headers, influx_body = request(
        "POST", f"/api/v2/write?org={tenant}&bucket=b", {"Authorization": f"Token {tenant_admin}"}, b"x" * (11 * 1024 * 1024))
    check(influx_status == 413 and json.loads(influx_body).get("maxLength") == 10485760,
          f"11 MiB InfluxDB write: {influx_status} {influx_body[:120]}")
    ok_size = "m,device=press-01 v=2\n" + "# padding\n" * 300_000  # ~3 MiB: over 1 MiB, under 10 MiB
    status, _, _ = request("POST", f"/api/v1/tenants/{tenant}/write", {**auth, "Content-Type": "text/plain"}, ok_size)
    check(status == 204, f"a 3 MiB metric write passes NGINX: {status}")

    # The request id and the client's own address reach the service's log.
    marker = "nginx-test-" + uuid.uuid4().hex
    status, headers, _ = request("GET", f"/api/v1/tenants/{tenant}", {**auth, "X-Request-ID": marker}, source="127.0.0.2")
    check(status == 200 and headers.get("x-request-id") == marker, f"request id echoed: {status} {headers.get('x-request-id')}")
    status, headers, _ = request("GET", f"/api/v1/tenants/{tenant}", auth)
    generated = headers.get("x-request-id", "")
    check(re.fullmatch(r"[0-9a-f]{32}", generated) is not None, f"NGINX generates a request id: {generated!r}")

    # /metrics is not exposed.
    status, _, _ = request("GET", "/metrics")
    check(status == 404, f"/metrics through NGINX: {status}")

    # A burst over the rate limit: 429 with Retry-After for that client; another client passes.
    statuses = []
    retry_after = None
    for _ in range(60):
        status, headers, _ = request("GET", "/healthz", source="127.0.0.3")
        statuses.append(status)
        if status == 429:
            retry_after = headers.get("retry-after")
    check(429 in statuses and statuses[0] == 200, f"burst statuses: {sorted(set(statuses))}")
    check(retry_after == "1", f"Retry-After on 429: {retry_after}")
    status, _, _ = request("GET", "/healthz", source="127.0.0.4")
    check(status == 200, f"a second client during the first one's burst: {status}")

    # Live streams through NGINX: SSE with a ticket in the URL arrives unbuffered, within
    # a second of the write; a WebSocket upgrades through it; the ticket is not logged.
    viewer = token("viewer", tenant)
    status, _, body = request("POST", f"/api/v1/tenants/{tenant}/stream-tickets", {"Authorization": f"Bearer {viewer}"})
    ticket = json.loads(body)["ticket"] if status == 201 else ""
    check(status == 201, f"stream ticket through NGINX: {status}")
    sock = tls.wrap_socket(socket.create_connection(("127.0.0.1", https_port), 10), server_hostname=HOST)
    sock.sendall(f"GET /api/v1/tenants/{tenant}/devices/press-01/stream?ticket={ticket} HTTP/1.1\r\nHost: {HOST}\r\n"
                 "Accept: text/event-stream\r\n\r\n".encode())
    sock.settimeout(5)
    head = sock.recv(65536).decode(errors="replace")
    check(head.startswith("HTTP/1.1 200") and "text/event-stream" in head, f"SSE through NGINX: {head[:60]!r}")
    written = time.time()
    request("POST", f"/api/v1/tenants/{tenant}/metrics", {**auth, "Content-Type": "application/json"},
            json.dumps({"points": [{"device": "press-01", "sensor": "streamed", "value": 42}]}))
    seen = ""
    while '"streamed"' not in seen and time.time() - written < 5:
        try:
            seen += sock.recv(65536).decode(errors="replace")
        except socket.timeout:
            break
    check('"streamed"' in seen and time.time() - written < 1.5,
          f"the event passes NGINX unbuffered ({time.time() - written:.2f} s): {seen[-120:]!r}")
    sock.close()
    from websockets.sync.client import connect as ws_connect
    with ws_connect(f"wss://127.0.0.1:{https_port}/api/v1/tenants/{tenant}/devices/press-01/stream", ssl=tls,
                    server_hostname=HOST, additional_headers={"Authorization": f"Bearer {viewer}"}) as ws:
        request("POST", f"/api/v1/tenants/{tenant}/metrics", {**auth, "Content-Type": "application/json"},
                json.dumps({"points": [{"device": "press-01", "sensor": "streamed", "value": 43}]}))
        message = json.loads(ws.recv(timeout=5))
        check(message.get("type") == "points" and message["data"]["points"][0]["value"] == 43,
              f"WebSocket through NGINX: {message}")
    time.sleep(0.3)
    stream_log = open(f"{work}/streams-access.log").read()
    check("/stream" in stream_log and ticket not in stream_log and viewer not in stream_log,
          f"NGINX's stream log has the requests and no ticket: {stream_log[-200:]!r}")

    time.sleep(0.5)
    log = [json.loads(line) for line in open(service_log, encoding="utf-8").read().split("\n") if line.startswith("{")]
    by_id = {entry.get("request_id"): entry for entry in log if entry.get("message") == "request"}
    entry = by_id.get(marker)
    check(entry is not None, "the client's X-Request-ID is in the service's access log")
    check(entry is not None and entry.get("client") == "127.0.0.2", f"client address from X-Forwarded-For: {entry and entry.get('client')}")
    check(generated in by_id, "NGINX's generated request id is in the service's access log")
    check(big_id not in by_id, "the oversized request reached the service")
finally:
    nginx.send_signal(signal.SIGQUIT)
    try:
        nginx.wait(10)
    except subprocess.TimeoutExpired:
        nginx.kill()
    if failures:
        print(open(f"{work}/error.log").read()[-2000:], file=sys.stderr)
    shutil.rmtree(work, ignore_errors=True)

if failures:
    sys.exit(1)
print("nginx: HTTPS end to end, redirect and ACME, 413 before the service, 429 per client, request ids and client address in the log, https Location, /metrics hidden, SSE and WebSocket streams unbuffered with no ticket logged")
