"""Live-stream clients and a paced writer for scripts/bench-streams.sh.

    stream_clients.py subscribe BASE TENANT TOKEN DEVICES SECONDS
        one SSE stream per device dev-000…; for SECONDS, the delay of every point whose
        time is after the start (arrival − point time: the writer stamps each point when
        it sends it); prints a JSON summary. Plain sockets and asyncio: the clients must
        cost little next to the service.
    stream_clients.py drain BASE TENANT TOKEN DEVICES SECONDS
        the same streams, read and counted (bytes, events) without parsing, one thread,
        epoll, one buffer: the cheapest client, for measuring what the streams cost the
        service.
    stream_clients.py idle BASE TENANT TOKEN STREAMS
        opens STREAMS idle streams (a sensor no point has), prints "open N" and holds them
        until stdin closes.
    stream_clients.py write BASE TENANT TOKEN RATE SECONDS
        line protocol at RATE points/s: every 100 ms a request of RATE/10 points (100
        devices × RATE/1000 sensors), each stamped with its send time in µs.
"""
import asyncio
import http.client
import json
import selectors
import socket
import sys
import threading
import time
from datetime import datetime
from urllib.parse import urlparse


def now_us():
    return time.time_ns() // 1000


async def open_stream(host, port, path, token):
    reader, writer = await asyncio.open_connection(host, port, limit=1 << 24)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\nAccept: text/event-stream\r\n\r\n".encode())
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 200"):
        raise RuntimeError(head.decode(errors="replace")[:200])
    return reader, writer


async def subscribe(base, tenant, token, devices, seconds):
    url = urlparse(base)
    started = now_us()
    delays = []
    events = 0

    async def one(device):
        nonlocal events
        reader, writer = await open_stream(url.hostname, url.port, f"/api/v1/tenants/{tenant}/devices/{device}/stream", token)
        # Chunked transfer: lines of the event stream arrive between chunk sizes.
        while True:
            line = await reader.readline()
            if not line:
                return
            if line.startswith(b"data: {\"points\""):
                arrived = now_us()
                events += 1
                for point in json.loads(line[6:])["points"]:
                    at = point["time"]
                    t = int(datetime.fromisoformat(at).timestamp() * 1_000_000)
                    if t >= started:
                        delays.append(arrived - t)

    tasks = [asyncio.create_task(one(f"dev-{d:03d}")) for d in range(devices)]
    await asyncio.sleep(seconds)
    for task in tasks:
        task.cancel()
    delays.sort()

    def q(p):
        return delays[min(len(delays) - 1, int(len(delays) * p))] / 1000 if delays else None

    print(json.dumps({"points": len(delays), "events": events, "p50_ms": q(0.5), "p99_ms": q(0.99),
                      "max_ms": delays[-1] / 1000 if delays else None}), flush=True)


def drain(base, tenant, token, devices, seconds):
    """Like subscribe, reading and counting only, on one thread with epoll and one
    reused buffer: the cheapest client a stream can have (an event split across two reads
    is not counted)."""
    url = urlparse(base)
    selector = selectors.DefaultSelector()
    buffer = bytearray(1 << 20)
    received = events = 0
    for d in range(devices):
        connection = socket.create_connection((url.hostname, url.port))
        connection.sendall(f"GET /api/v1/tenants/{tenant}/devices/dev-{d:03d}/stream HTTP/1.1\r\nHost: {url.hostname}\r\n"
                           f"Authorization: Bearer {token}\r\nAccept: text/event-stream\r\n\r\n".encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = connection.recv(65536)
            if not chunk:
                raise RuntimeError("closed before its head")
            head += chunk
        if not head.startswith(b"HTTP/1.1 200"):
            raise RuntimeError(head.decode(errors="replace")[:200])
        received += len(head)
        connection.setblocking(False)
        selector.register(connection, selectors.EVENT_READ)
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        for key, _ in selector.select(left):
            count = key.fileobj.recv_into(buffer)
            if count == 0:
                selector.unregister(key.fileobj)
                continue
            received += count
            events += buffer.count(b"event: points", 0, count)
    print(json.dumps({"bytes": received, "events": events}), flush=True)


async def idle(base, tenant, token, streams):
    url = urlparse(base)
    held = []
    for i in range(streams):
        held.append(await open_stream(url.hostname, url.port,
                                      f"/api/v1/tenants/{tenant}/devices/dev-{i % 100:03d}/stream?sensor=idle", token))
    print(f"open {len(held)}", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)


def write(base, tenant, token, rate, seconds):
    url = urlparse(base)
    sensors = max(1, rate // 1000)
    stop = time.time() + seconds
    sent = [0, 0]

    def worker(offset):
        connection = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
        tick = time.time() + offset
        while tick < stop:
            time.sleep(max(0.0, tick - time.time()))
            t = now_us()
            body = "\n".join(f"m,device=dev-{d:03d} " + ",".join(f"s{s:02d}={d}.{s}" for s in range(sensors)) + f" {t}"
                             for d in range(100))
            connection.request("POST", f"/api/v1/tenants/{tenant}/write?precision=us", body,
                               {"Authorization": f"Bearer {token}", "Content-Type": "text/plain"})
            response = connection.getresponse()
            response.read()
            sent[0 if response.status == 204 else 1] += 100 * sensors
            tick += 0.4  # four workers, each every 400 ms: a request every 100 ms
        connection.close()

    threads = [threading.Thread(target=worker, args=(i * 0.1,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    print(json.dumps({"points_acknowledged": sent[0], "points_refused": sent[1], "rate": sent[0] / seconds}), flush=True)


if __name__ == "__main__":
    mode, base, tenant, token = sys.argv[1:5]
    if mode == "subscribe":
        asyncio.run(subscribe(base, tenant, token, int(sys.argv[5]), float(sys.argv[6])))
    elif mode == "drain":
        drain(base, tenant, token, int(sys.argv[5]), float(sys.argv[6]))
    elif mode == "idle":
        asyncio.run(idle(base, tenant, token, int(sys.argv[5])))
    else:
        write(base, tenant, token, int(sys.argv[5]), float(sys.argv[6]))
