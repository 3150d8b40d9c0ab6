"""Live streams end to end, with independent clients: httpx-sse (Server-Sent Events) and
websockets, against two replicas of the real service on the same database.

Replica A is the running service (points are written through it); replica B is started
here with small limits (3 streams a user, 50 queued points, 1 s keep-alive, 2 s tickets)
(and 6 events a resume) and every stream is read from it, so every event crossed
replicas through PostgreSQL.
At the end B gets SIGTERM with streams open.

    python3 Tests/streams/streams_test.py BASE_A ISSUER BINARY WORK_DIR
"""
import faulthandler
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid

import httpx
from httpx_sse import connect_sse
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect as ws_connect

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../support"))
from millwright_api import API  # noqa: E402

base_a, issuer, binary, work = sys.argv[1:5]
failures = []
faulthandler.dump_traceback_later(240, exit=True)


def check(condition, message):
    print(("ok   " if condition else "FAIL ") + message, flush=True)
    if not condition:
        failures.append(message)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


port_b = free_port()
base_b = f"http://127.0.0.1:{port_b}"
log_b = os.path.join(work, "replica-b.log")
env = dict(os.environ, MILLWRIGHT_PORT=str(port_b), MILLWRIGHT_METRICS_PORT="0", MILLWRIGHT_MIGRATE_ON_START="false",
           MILLWRIGHT_LOG_LEVEL="info", MILLWRIGHT_LOG_FORMAT="json", MILLWRIGHT_STREAM_MAX_PER_PRINCIPAL="3",
           MILLWRIGHT_STREAM_QUEUE_POINTS="50", MILLWRIGHT_STREAM_KEEPALIVE_S="1", MILLWRIGHT_STREAM_TICKET_S="2",
           MILLWRIGHT_STREAM_REPLAY_MAX_EVENTS="6")
replica_b = subprocess.Popen([binary, "serve"], env=env, stdout=open(log_b, "w"), stderr=subprocess.STDOUT)
for _ in range(300):
    try:
        if httpx.get(base_b + "/readyz").status_code == 200:
            break
    except httpx.HTTPError:
        pass
    time.sleep(0.1)

api = API(base_a, issuer)


def token(roles, tenant_id=None, sub=None, ttl=3600):
    """A token from the development issuer; each subject has its own stream cap."""
    query = f"roles={roles}&ttl={ttl}&sub={sub or uuid.uuid4().hex[:12]}" + (f"&tenant={tenant_id}" if tenant_id else "")
    return httpx.get(f"{issuer}/token?{query}").json()["access_token"]


admin = token("platform-admin")
tenant = "live-" + uuid.uuid4().hex[:8]
other = "live-" + uuid.uuid4().hex[:8]
for t in (tenant, other):
    api.call("POST", "/api/v1/tenants", admin, {"id": t, "name": t})
tenant_admin = token("tenant-admin", tenant)
viewer = token("viewer", tenant)
other_viewer = token("viewer", other)
api.call("POST", f"/api/v1/tenants/{tenant}/devices", tenant_admin, {"id": "d1", "labels": {"line": "3"}})
api.call("POST", f"/api/v1/tenants/{tenant}/devices", tenant_admin, {"id": "d2", "labels": {"line": "4"}})
tokens_seen = [admin, tenant_admin, viewer, other_viewer]
tickets_seen = []
prefix = f"/api/v1/tenants/{tenant}"


def write(points, token=tenant_admin):
    """Writes [(device, sensor, value)] through replica A; returns when committed."""
    body = {"points": [{"device": d, "sensor": s, "value": v} for d, s, v in points]}
    status, answer = api.call("POST", f"{prefix}/metrics", token, body)
    assert status == 200, (status, answer)


def ticket(token=viewer, tenant_id=tenant, base=base_a):
    """A ticket issued by replica A (30 s), or by B (2 s)."""
    response = httpx.post(f"{base}/api/v1/tenants/{tenant_id}/stream-tickets", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 201, response.text
    tickets_seen.append(response.json()["ticket"])
    return response.json()["ticket"]


class Reader:
    """Reads one SSE stream on a thread of its own (httpx-sse), keeping every event."""

    def __init__(self, path, token=viewer, last_event_id=None, base=base_b):
        self.events, self.status, self.error = [], None, None
        self.opened = threading.Event()
        self.closed = threading.Event()
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        if last_event_id is not None:
            headers["Last-Event-ID"] = str(last_event_id)
        self.client = httpx.Client(base_url=base, timeout=httpx.Timeout(30, read=30))
        self.thread = threading.Thread(target=self.run, args=(path, headers), daemon=True)
        self.thread.start()
        self.opened.wait(10)

    def run(self, path, headers):
        try:
            with connect_sse(self.client, "GET", path, headers=headers) as source:
                self.status = source.response.status_code
                self.socket = source.response.extensions["network_stream"].get_extra_info("socket")
                self.opened.set()
                if self.status != 200:
                    self.body = source.response.read()
                    return
                for event in source.iter_sse():
                    self.events.append(event)
                    if self.closed.is_set():
                        return
        except Exception as error:  # noqa: BLE001 (kept for the checks)
            self.error = error
        finally:
            self.opened.set()
            self.closed.set()

    def points(self):
        return [p for e in self.events if e.event == "points" for p in json.loads(e.data)["points"]]

    def wait(self, condition, seconds=5):
        deadline = time.time() + seconds
        while time.time() < deadline:
            if condition(self):
                return True
            time.sleep(0.02)
        return condition(self)

    def close(self):
        """Closes the connection as a client going away does (the reading thread ends)."""
        self.closed.set()
        if getattr(self, "socket", None) is not None:
            try:
                self.socket.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self.thread.join(5)
        self.client.close()


def read_until(sock, done, timeout):
    """What `sock` sends until `done(received)`, it closes, or it is silent for `timeout` s."""
    received = b""
    sock.settimeout(timeout)
    try:
        while not done(received):
            chunk = sock.recv(1 << 20)
            if not chunk:
                break
            received += chunk
    except socket.timeout:
        pass
    return received


def status_of(path, headers=None, base=base_b):
    """Status, content type and (unless it is a stream) body of a GET."""
    with httpx.stream("GET", base + path, headers=headers or {}, timeout=5) as response:
        streaming = response.headers.get("content-type", "").startswith("text/event-stream")
        return response.status_code, response.headers.get("content-type", ""), "" if streaming else response.read().decode()


try:
    # Points written through A reach an SSE client of B within a second, only its device's.
    d1 = Reader(f"{prefix}/devices/d1/stream")
    check(d1.status == 200, f"device stream opens: {d1.status}")
    started = time.time()
    write([("d1", "temp", 21.5), ("d2", "temp", 99.0), ("d1", "count", 3)])
    got = d1.wait(lambda r: len(r.points()) >= 2, 5)
    check(got and time.time() - started < 2, f"points written through another replica arrive ({time.time() - started:.2f} s)")
    check(sorted((p["device"], p["sensor"], p["value"]) for p in d1.points()) == [("d1", "count", 3), ("d1", "temp", 21.5)],
          f"only d1's points: {d1.points()}")
    check(all(e.id.isdigit() for e in d1.events if e.event == "points"), "every event has a numeric id")

    # A label selection and a sensor filter.
    line4 = Reader(f"{prefix}/stream?label=line:4&sensor=temp")
    write([("d1", "temp", 1.0), ("d2", "temp", 2.0), ("d2", "other", 3.0)])
    line4.wait(lambda r: len(r.points()) >= 1)
    time.sleep(0.3)
    check([(p["device"], p["sensor"], p["value"]) for p in line4.points()] == [("d2", "temp", 2.0)],
          f"label and sensor selection: {line4.points()}")
    line4.close()

    # Resume: disconnect, miss points, reconnect with Last-Event-ID: nothing lost, nothing twice.
    d1.wait(lambda r: len(r.points()) >= 3)
    last = d1.events[-1].id
    before = d1.points()
    d1.close()
    for i in range(5):
        write([("d1", "seq", i)])
    resumed = Reader(f"{prefix}/devices/d1/stream", last_event_id=last)
    resumed.wait(lambda r: len([p for p in r.points() if p["sensor"] == "seq"]) >= 5)
    for i in range(5, 8):
        write([("d1", "seq", i)])
    resumed.wait(lambda r: len([p for p in r.points() if p["sensor"] == "seq"]) >= 8)
    time.sleep(0.3)
    seq = [p["value"] for p in resumed.points() if p["sensor"] == "seq"]
    check(seq == list(range(8)), f"resumed with Last-Event-ID: missed events replayed, then live, none twice: {seq}")
    ids = [int(e.id) for e in resumed.events if e.id]
    check(ids == sorted(set(ids)) and ids[0] > int(last), f"ids after the resume point, increasing: {ids[:3]}…")
    check(not any(p in resumed.points() for p in before), "nothing received before the disconnect comes again")
    resumed.close()

    # Past the replay size (6 on B), a gap event first, then the newest 6 events.
    for i in range(10):
        write([("d1", "gap", i)])
    gapped = Reader(f"{prefix}/devices/d1/stream", last_event_id=resumed.events[-1].id)
    gapped.wait(lambda r: len(r.points()) >= 6)
    time.sleep(0.3)
    gaps = [json.loads(e.data) for e in gapped.events if e.event == "gap"]
    values = [p["value"] for p in gapped.points() if p["sensor"] == "gap"]
    check(len(gaps) == 1 and gaps[0]["reason"] == "replay_limit" and values == list(range(4, 10))
          and [e.event for e in gapped.events if e.data][0] == "gap", f"a resume past the replay size: {gaps} then {values}")
    gapped.close()
    # Past the horizon (the log purged): a gap event says so.
    owner = os.environ["MILLWRIGHT_TEST_OWNER_DATABASE_URL"]
    subprocess.run(["psql", owner, "-qtAX", "-c", "SELECT millwright.purge_stream_events('0 seconds')"], check=True,
                   capture_output=True)
    write([("d1", "after-purge", 1)])
    purged = Reader(f"{prefix}/devices/d1/stream", last_event_id=resumed.events[-1].id)
    purged.wait(lambda r: len(r.points()) >= 1)
    gaps = [json.loads(e.data) for e in purged.events if e.event == "gap"]
    check(len(gaps) == 1 and gaps[0]["reason"] == "horizon" and [p["sensor"] for p in purged.points()] == ["after-purge"],
          f"a resume from before the horizon: {gaps} then {purged.points()}")
    purged.close()

    # WebSocket: bearer header, then ticket; resume_from. (A user of its own: the viewer's
    # streams closed above are noticed at their next keep-alive, and the cap is 3.)
    ws_viewer = token("viewer", tenant)
    tokens_seen.append(ws_viewer)
    with ws_connect(f"ws://127.0.0.1:{port_b}{prefix}/devices/d1/stream",
                    additional_headers={"Authorization": f"Bearer {ws_viewer}"}) as ws:
        write([("d1", "ws", 7)])
        message = json.loads(ws.recv(timeout=5))
        check(message["type"] == "points" and message["data"]["points"][0]["value"] == 7, f"WebSocket with a bearer token: {message}")
        ws_last = message["id"]
    write([("d1", "ws", 8)])
    with ws_connect(f"ws://127.0.0.1:{port_b}{prefix}/devices/d1/stream?ticket={ticket(ws_viewer)}&resume_from={ws_last}") as ws:
        message = json.loads(ws.recv(timeout=5))
        check(message["data"]["points"][0]["value"] == 8 and int(message["id"]) > int(ws_last),
              f"WebSocket with a ticket, resumed: {message}")
    for name, path, code in [("without credential", f"{prefix}/devices/d1/stream", 4401),
                             ("for an unknown device", f"{prefix}/devices/nope/stream?ticket={ticket()}", 4404),
                             ("with a malformed tenant id", f"/api/v1/tenants/NOT..VALID/devices/d1/stream", 4404)]:
        with ws_connect(f"ws://127.0.0.1:{port_b}{path}") as ws:
            refusal = json.loads(ws.recv(timeout=5))
            try:
                ws.recv(timeout=5)
            except ConnectionClosed as closed:
                close_code = closed.rcvd.code if closed.rcvd else None
        check(refusal["type"] == "error" and refusal["data"]["status"] == code - 4000 and close_code == code,
              f"a WebSocket {name}: the problem, then close {close_code}: {refusal}")

    # An upgrade asked on a kept-alive connection is answered at once, never served events.
    kept = socket.create_connection(("127.0.0.1", port_b), 5)
    kept.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    time.sleep(0.3)
    kept.recv(65536)
    kept.sendall(f"GET {prefix}/devices/d1/stream HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {viewer}\r\n"
                 "Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
                 "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n".encode())
    kept.settimeout(5)
    answer = kept.recv(65536).decode(errors="replace")
    check(answer.startswith("HTTP/1.1 307") and f"location: {prefix}/devices/d1/stream" in answer.lower(),
          f"a late upgrade is sent to a new connection (307 to itself, connection closed): {answer[:40]!r}")
    kept.close()

    # Tickets: single use, bound to the tenant, short-lived; never in the access log.
    ticket_user = token("viewer", tenant)
    tokens_seen.append(ticket_user)
    t = ticket(ticket_user)
    sse = Reader(f"{prefix}/alerts/stream?ticket={t}", token=None)
    check(sse.status == 200, f"SSE with a ticket (as EventSource does): {sse.status}")
    sse.close()
    code, kind, body = status_of(f"{prefix}/alerts/stream?ticket={t}")
    check(code == 401 and "invalid_ticket" in body and kind.startswith("application/problem+json"), f"a used ticket: {code} {body[:80]}")
    time.sleep(1.5)  # the streams closed above are noticed at their next keep-alive (the cap is 3)
    t = ticket(ticket_user)
    code, _, _ = status_of(f"/api/v1/tenants/{other}/alerts/stream?ticket={t}")
    check(code == 401, f"a ticket for another tenant: {code}")
    sse = Reader(f"{prefix}/stream?ticket={t}", token=None)
    check(sse.status == 200, f"…which stays valid for its own tenant: {sse.status}")
    sse.close()
    t = ticket(ticket_user, base=base_b)
    time.sleep(3)
    code, _, _ = status_of(f"{prefix}/stream?ticket={t}")
    check(code == 401, f"an expired ticket (2 s, issued by replica B): {code}")
    code, _, _ = status_of(f"{prefix}/stream?ticket=mwt_not-a-ticket")
    check(code == 401, f"a made-up ticket: {code}")

    # Who may subscribe.
    key_status, key_body = api.call("POST", f"{prefix}/devices/d1/keys", tenant_admin, {"name": "k"})
    device_key = key_body["secret"]
    tokens_seen.append(device_key)
    writer_token = token("metrics-writer", tenant)
    tokens_seen.append(writer_token)
    for name, headers, expected in [
        ("anonymous", {}, 401),
        ("a bad token", {"Authorization": "Bearer nope"}, 401),
        ("a device key", {"Authorization": f"Bearer {device_key}"}, 403),
        ("another tenant's viewer", {"Authorization": f"Bearer {other_viewer}"}, 404),
        ("a metrics-writer", {"Authorization": f"Bearer {writer_token}"}, 200),
    ]:
        if expected == 200:
            r = Reader(f"{prefix}/alerts/stream", token=writer_token)
            check(r.status == 200, f"{name} may subscribe: {r.status}")
            r.close()
        else:
            code, kind, _ = status_of(f"{prefix}/alerts/stream", headers)
            check(code == expected and kind.startswith("application/problem+json"), f"{name}: {code} (expected {expected})")
    response = httpx.post(f"{base_b}/api/v1/tenants/no-such-{uuid.uuid4().hex[:6]}/stream-tickets",
                          headers={"Authorization": f"Bearer {admin}"})
    check(response.status_code == 404, f"a platform admin's ticket for a tenant that does not exist: {response.status_code}")
    api.call("PATCH", f"/api/v1/tenants/{other}", admin, {"status": "suspended"})
    code, _, body = status_of(f"/api/v1/tenants/{other}/alerts/stream", {"Authorization": f"Bearer {other_viewer}"})
    check(code == 403 and "tenant_suspended" in body, f"a suspended tenant's viewer: {code} {body[:80]}")
    code, _, _ = status_of(f"/api/v1/tenants/{other}/alerts/stream", {"Authorization": f"Bearer {admin}"})
    check(code == 200, f"…while a platform admin may stream it: {code}")
    code, _, body = status_of(f"{prefix}/devices/nope/stream", {"Authorization": f"Bearer {viewer}"})
    check(code == 404, f"an unknown device: {code}")
    code, _, body = status_of(f"{prefix}/stream?device=nope", {"Authorization": f"Bearer {viewer}"})
    check(code == 404, f"an unknown device in a selection: {code}")
    for query in ["label=nocolon", "policy=newest", "sensor=bad%20key", "resume_from=-1"]:
        code, _, body = status_of(f"{prefix}/stream?{query}", {"Authorization": f"Bearer {viewer}"})
        check(code == 400, f"?{query}: {code} {body[:80]}")
    code, _, _ = status_of(f"{prefix}/stream", {"Authorization": f"Bearer {viewer}", "Last-Event-ID": "abc"})
    check(code == 400, f"a Last-Event-ID that is no id: {code}")

    # Caps: 3 streams a user on replica B; the 4th is 429 naming the limit; closing one frees it.
    capped = token("viewer", tenant)
    tokens_seen.append(capped)
    open_streams = [Reader(f"{prefix}/alerts/stream", token=capped) for _ in range(3)]
    code, kind, body = status_of(f"{prefix}/alerts/stream", {"Authorization": f"Bearer {capped}"})
    check(code == 429 and "stream_limit" in body and "MILLWRIGHT_STREAM_MAX_PER_PRINCIPAL" in body, f"a 4th stream: {code} {body[:120]}")
    open_streams.pop().close()
    # A closed SSE connection is noticed when a write to it fails: the keep-alives (1 s here).
    for _ in range(50):
        again = Reader(f"{prefix}/alerts/stream", token=capped)
        if again.status == 200:
            break
        time.sleep(0.2)
    check(again.status == 200, f"after closing one, a stream opens again: {again.status}")
    open_streams.append(again)

    # Keep-alives: an idle stream gets a comment every second on replica B.
    raw = socket.create_connection(("127.0.0.1", port_b))
    raw.sendall(f"GET {prefix}/devices/d2/stream?sensor=none HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {tenant_admin}\r\n\r\n".encode())
    time.sleep(2.5)
    raw.settimeout(1)
    idle = raw.recv(65536).decode(errors="replace")
    check(idle.count(": keep-alive") >= 1, f"keep-alives on an idle stream: {idle.count(': keep-alive')}")
    raw.close()
    for r in open_streams:
        r.close()
    time.sleep(1.5)

    # A slow consumer is dropped with its final event; a fast one on the same device keeps up.
    fast = Reader(f"{prefix}/devices/d2/stream", token=tenant_admin)
    slow = socket.socket()
    slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    slow.connect(("127.0.0.1", port_b))
    slow.sendall(f"GET {prefix}/devices/d2/stream HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {tenant_admin}\r\n\r\n".encode())
    time.sleep(0.5)
    padding = "x" * 900
    batches, per_batch = 60, 200
    for b in range(batches):
        lines = "".join(f'm,device=d2 s="{padding}",n={b * per_batch + i}i {time.time_ns() + i}\n' for i in range(per_batch))
        response = httpx.post(f"{base_a}{prefix}/write", content=lines, headers={"Authorization": f"Bearer {tenant_admin}"})
        assert response.status_code == 204, response.text
    expected_n = batches * per_batch
    fast.wait(lambda r: len([p for p in r.points() if p["sensor"] == "m.n"]) >= expected_n, 30)
    check(len([p for p in fast.points() if p["sensor"] == "m.n"]) == expected_n,
          f"the fast consumer received every point ({len([p for p in fast.points() if p['sensor'] == 'm.n'])} of {expected_n})")
    received = read_until(slow, lambda got: b"event: end" in got and got.endswith(b"\n\n"), 5)
    tail = received[received.rfind(b"event: end"):].decode(errors="replace")
    end = json.loads(tail.split("data: ", 1)[1].split("\n", 1)[0]) if "event: end" in tail else {}
    check(end.get("reason") == "slow_consumer" and end.get("dropped", 0) > 0, f"the slow consumer's final event: {end}")
    slow.close()
    fast.close()

    # policy=latest: a slow reader gets each sensor's newest value, with the count coalesced.
    latest = socket.socket()
    latest.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    latest.connect(("127.0.0.1", port_b))
    latest.sendall(f"GET {prefix}/devices/d2/stream?policy=latest HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {tenant_admin}\r\n\r\n".encode())
    time.sleep(0.5)
    for b in range(batches):
        lines = "".join(f'm,device=d2 s="{padding}",n={b * per_batch + i}i {time.time_ns() + i}\n' for i in range(per_batch))
        httpx.post(f"{base_a}{prefix}/write", content=lines, headers={"Authorization": f"Bearer {tenant_admin}"})
    write([("d2", "final", 1.0)])
    received = read_until(latest, lambda got: b'"final"' in got, 3)
    text = received.decode(errors="replace")
    coalesced = [json.loads(line[6:]).get("coalesced", 0) for line in text.split("\n") if line.startswith("data: {")]
    check("event: end" not in text and sum(coalesced) > 0 and '"final"' in text,
          f"policy=latest coalesces instead of ending (coalesced {sum(coalesced)}; final point seen: {'final' in text})")
    latest.close()

    # Alert changes stream as they commit.
    alerts = Reader(f"{prefix}/alerts/stream")
    status, rule = api.call("POST", f"{prefix}/alert-rules", tenant_admin,
                            {"name": "hot", "device": "d1", "sensor": "temp",
                             "condition": {"type": "threshold", "operator": "above", "value": 50}})
    check(status == 201, f"alert rule: {status} {rule}")
    write([("d1", "temp", 60.0)])
    alerts.wait(lambda r: any(e.event == "alert" for e in r.events), 10)
    alert_events = [json.loads(e.data) for e in alerts.events if e.event == "alert"]
    check(bool(alert_events) and alert_events[0]["transition"]["state"] == "firing" and alert_events[0]["alert"]["device"] == "d1",
          f"an alert firing: {alert_events[:1]}")
    alerts.close()

    # A stream ends when its token expires.
    short_token = token("viewer", tenant, ttl=2)
    tokens_seen.append(short_token)
    expiring = Reader(f"{prefix}/alerts/stream", token=short_token)
    expiring.wait(lambda r: any(e.event == "end" for e in r.events), 10)
    ends = [json.loads(e.data) for e in expiring.events if e.event == "end"]
    check(ends and ends[0]["reason"] == "token_expired", f"the stream ends when its token expires: {ends}")
    expiring.close()

    # SIGTERM: every open stream gets its final event, and B exits promptly.
    time.sleep(2.5)  # the viewer's earlier streams are noticed closed
    sse = Reader(f"{prefix}/devices/d1/stream")
    ws = ws_connect(f"ws://127.0.0.1:{port_b}{prefix}/alerts/stream", additional_headers={"Authorization": f"Bearer {viewer}"})
    ws.__enter__()
    time.sleep(0.3)
    stopping = time.time()
    replica_b.send_signal(signal.SIGTERM)
    sse.wait(lambda r: any(e.event == "end" for e in r.events), 10)
    ends = [json.loads(e.data) for e in sse.events if e.event == "end"]
    check(ends and ends[0]["reason"] == "shutdown", f"SSE stream's final event on SIGTERM: {ends}")
    message = json.loads(ws.recv(timeout=10))
    check(message["type"] == "end" and message["data"]["reason"] == "shutdown", f"WebSocket's final message on SIGTERM: {message}")
    try:
        ws.recv(timeout=5)
    except Exception as closed:  # noqa: BLE001
        check(getattr(closed, "rcvd", None) is not None and closed.rcvd.code == 1001, f"…then closed with 1001: {closed}")
    code = replica_b.wait(15)
    check(code == 0 and time.time() - stopping < 10, f"replica B exits on SIGTERM with streams open: {code} in {time.time() - stopping:.1f} s")

    log = open(log_b).read()
    leaked = [s for s in tokens_seen + tickets_seen if s in log]
    check(not leaked, f"no token or ticket in replica B's log ({len(tokens_seen)} tokens, {len(tickets_seen)} tickets looked for)")
finally:
    if replica_b.poll() is None:
        replica_b.kill()

if failures:
    print(f"{len(failures)} stream checks failed; replica B's log: {log_b}", file=sys.stderr)
    sys.exit(1)
print("streams: all checks passed")
