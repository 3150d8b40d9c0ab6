"""Starts a throwaway InfluxDB 1.x (`influxd` from Debian's `influxdb` package) on free
loopback ports, for recording line-protocol verdicts. Not used by the test command."""

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


CONFIG = """
reporting-disabled = true
bind-address = "127.0.0.1:{rpc}"
[meta]
  dir = "{root}/meta"
[data]
  dir = "{root}/data"
  wal-dir = "{root}/wal"
  query-log-enabled = false
[http]
  bind-address = "127.0.0.1:{http}"
  log-enabled = false
  max-body-size = 0
[monitor]
  store-enabled = false
[continuous_queries]
  enabled = false
"""


@contextlib.contextmanager
def influxd():
    root = tempfile.mkdtemp(prefix="influxd.")
    http = free_port()
    with open(os.path.join(root, "influxdb.conf"), "w") as f:
        f.write(CONFIG.format(root=root, rpc=free_port(), http=http))
    log = open(os.path.join(root, "influxd.log"), "w")
    process = subprocess.Popen(["influxd", "-config", os.path.join(root, "influxdb.conf")], stdout=log, stderr=log)
    base = f"http://127.0.0.1:{http}"
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(base + "/ping")
                break
            except OSError:
                time.sleep(0.1)
        else:
            raise SystemExit("influxd did not start; see " + log.name)
        yield base
    finally:
        process.terminate()
        process.wait()
        shutil.rmtree(root, ignore_errors=True)
