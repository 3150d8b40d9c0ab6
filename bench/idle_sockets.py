"""What idle sockets from one client cost everyone else: with the service's descriptor
limit at 1,024, one address (127.0.0.2) opens 1,100 connections and sends nothing;
meanwhile another client (127.0.0.1) asks for /healthz. Then the same client reopens
every socket the service closes, always trying to hold 1,100. Prints, before, during and
after each: the other client's answers (status counts, p50 and worst latency, 5 s
timeout) and the service's CPU use.

    python3 bench/idle_sockets.py PORT SERVICE_PID

Run by scripts/bench-sockets.sh, which starts the service under `prlimit --nofile=1024`."""
import collections
import os
import resource
import socket
import sys
import threading
import time

port, pid = int(sys.argv[1]), int(sys.argv[2])
resource.setrlimit(resource.RLIMIT_NOFILE, (4096, 4096))
ticks = os.sysconf("SC_CLK_TCK")


def cpu_seconds():
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / ticks


def healthz():
    """(status or error, seconds) of one GET /healthz on a new connection from 127.0.0.1."""
    started = time.monotonic()
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5, source_address=("127.0.0.1", 0)) as s:
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n")
            answer = s.recv(64)
            status = answer.split(b" ")[1].decode() if answer.startswith(b"HTTP/1.1 ") else "closed"
    except socket.timeout:
        status = "timeout"
    except OSError as error:
        status = type(error).__name__
    return status, time.monotonic() - started


def phase(name, seconds=5):
    cpu, started = cpu_seconds(), time.monotonic()
    answers = []
    while time.monotonic() - started < seconds:
        answers.append(healthz())
        time.sleep(0.1)
    used = (cpu_seconds() - cpu) / (time.monotonic() - started)
    latencies = sorted(latency for _, latency in answers)
    statuses = collections.Counter(status for status, _ in answers)
    print(f"| {name} | {dict(statuses)} | {latencies[len(latencies) // 2] * 1000:.1f} ms | "
          f"{latencies[-1] * 1000:.0f} ms | {used * 100:.0f} % |", flush=True)


def attacker(timeout):
    """A connection from 127.0.0.2 that sends nothing, or None when it could not connect."""
    s = socket.socket()
    try:
        s.bind(("127.0.0.2", 0))
        s.settimeout(timeout)
        s.connect(("127.0.0.1", port))
        s.settimeout(None)  # so that still_open's MSG_DONTWAIT answers at once
        return s
    except OSError:
        s.close()
        return None


def still_open(s):
    """Whether the service has not closed `s` (what it sent is read and dropped)."""
    try:
        return s.recv(1, socket.MSG_DONTWAIT) != b""
    except BlockingIOError:
        return True
    except OSError:
        return False


print("| phase | other client's /healthz | p50 | worst | service CPU |")
print("|---|---|---|---|---|")
phase("before")
held = [s for s in (attacker(2) for _ in range(1100)) if s]
time.sleep(1)
alive = sum(still_open(s) for s in held)
print(f"<!-- 1,100 connections tried from 127.0.0.2, {len(held)} connected, {alive} still open after 1 s -->")
phase("1,100 idle sockets from 127.0.0.2 held", 10)
for s in held:
    s.close()
time.sleep(1)
phase("after they closed")

# The same client reconnecting every socket the service closes, so that it always tries
# to hold 1,100: refused connections come back at once.
stop = threading.Event()


def reconnect_forever():
    sockets = []
    while not stop.is_set():
        for s in sockets:
            if not still_open(s):
                s.close()
        sockets = [s for s in sockets if s.fileno() != -1]
        while len(sockets) < 1100 and not stop.is_set():
            s = attacker(0.5)
            if s is None:
                break
            sockets.append(s)
        time.sleep(0.05)
    for s in sockets:
        s.close()


flood = threading.Thread(target=reconnect_forever)
flood.start()
time.sleep(2)
phase("1,100 sockets from 127.0.0.2, each reopened when closed", 10)
stop.set()
flood.join()
time.sleep(2)
phase("after they stopped")
