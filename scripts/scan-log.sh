#!/usr/bin/env bash
# Checks a service log written during a test run:
#   - every line is a JSON object with timestamp, level, message, logger;
#   - access lines carry request_id, method, route, status, duration and client;
#   - no credential used in the run appears anywhere: each line of SECRETS_FILE (tokens,
#     device-key secrets, the database password), and nothing shaped like a JWT or a
#     device key at all.
#
#   scripts/scan-log.sh LOG SECRETS_FILE
set -euo pipefail
log=${1:?log file}
secrets=${2:?secrets file}

python3 - "$log" "$secrets" <<'PY'
import json, re, sys
log_path, secrets_path = sys.argv[1], sys.argv[2]
lines = [l for l in open(log_path, encoding="utf-8").read().split("\n") if l]  # JSON strings may hold U+0085, U+2028
secrets = [s.strip() for s in open(secrets_path) if s.strip()]
problems = []
access = 0
for number, line in enumerate(lines, 1):
    try:
        entry = json.loads(line)
    except ValueError:
        problems.append(f"line {number} is not JSON: {line[:120]}")
        continue
    for field in ("timestamp", "level", "message", "logger"):
        if field not in entry:
            problems.append(f"line {number} has no {field}")
    if not re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", entry.get("timestamp", "")):
        problems.append(f"line {number}: timestamp is not RFC 3339 UTC")
    if entry.get("message") == "request":
        access += 1
        for field in ("request_id", "method", "route", "status", "duration_ms", "client", "bytes_in", "bytes_out", "principal_kind"):
            if field not in entry:
                problems.append(f"access line {number} has no {field}")
text = "\n".join(lines)
for secret in secrets:
    if secret in text:
        problems.append(f"a secret used in the run appears in the log: {secret[:12]}…")
for pattern, what in [(r"eyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}", "a JWT"), (r"mwk\.[a-z0-9-]+\.[A-Za-z0-9]+\.[A-Za-z0-9_-]{16,}", "a device key")]:
    if re.search(pattern, text):
        problems.append(f"the log contains {what}")
if access < 100:
    problems.append(f"only {access} access lines: the scan would prove little")
if problems:
    print("log scan failed:\n  " + "\n  ".join(problems[:50]), file=sys.stderr)
    sys.exit(1)
print(f"log scan: {len(lines)} JSON lines ({access} requests), none shows any of {len(secrets)} secrets used, a JWT or a device key")
PY
