"""Webhook signatures checked by independent implementations: the Standard Webhooks
project's own library (`standardwebhooks` from PyPI) verifies `webhook-id`,
`webhook-timestamp` and `webhook-signature` with the channel's `whsec_` secret
unchanged, and Python's hmac recomputes `X-Millwright-Signature`. A tampered body
fails both. A Slack-format channel receives a message with `text`.

    python3 Tests/webhooks/verify_signatures.py BASE_URL ISSUER_URL [SECRETS_FILE]

The service must allow private webhook addresses (MILLWRIGHT_WEBHOOK_ALLOW_PRIVATE=true):
the receiver is a local http.server. The secret is appended to SECRETS_FILE, so that
the log scan checks the service never logged it. Exits non-zero on failure.
"""
import base64
import hashlib
import hmac
import json
import os
import queue
import sys
import threading
import time
import uuid
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from millwright_api import API  # noqa: E402

base, issuer = sys.argv[1], sys.argv[2]
secrets_file = sys.argv[3] if len(sys.argv) > 3 else None
received = queue.Queue()


class Receiver(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        received.put((self.path, {k.lower(): v for k, v in self.headers.items()}, body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
threading.Thread(target=server.serve_forever, daemon=True).start()
hook = f"http://127.0.0.1:{server.server_address[1]}"


api = API(base, issuer)
token = api.token


def call(method, path, bearer, body=None):
    status, answer = api.call(method, path, bearer, body)
    check(200 <= status < 300, f"{method} {path} answered {status}: {answer}")
    return answer


def check(condition, message):
    if not condition:
        print(f"FAIL: {message}", file=sys.stderr)
        sys.exit(1)


def wait(path):
    deadline = time.time() + 20
    while time.time() < deadline:
        try:
            got = received.get(timeout=0.5)
        except queue.Empty:
            continue
        if got[0] == path:
            return got
    check(False, f"no webhook at {path} within 20 s")


tenant = "hooks-" + uuid.uuid4().hex[:8]
call("POST", "/api/v1/tenants", token("platform-admin"), {"id": tenant, "name": "Webhook signatures"})
admin = token("tenant-admin", tenant)
call("POST", f"/api/v1/tenants/{tenant}/devices", admin, {"id": "press-01"})
call("POST", f"/api/v1/tenants/{tenant}/devices/press-01/sensors", admin, {"key": "temperature", "kind": "number"})
channel = call("POST", f"/api/v1/tenants/{tenant}/notification-channels", admin,
               {"name": "ops", "url": hook + "/json"})
secret = channel.get("secret", "")
check(secret.startswith("whsec_") and channel["signed"] is True, f"a signed channel shows its secret once: {channel}")
if secrets_file:
    with open(secrets_file, "a") as f:
        f.write(secret + "\n")
again = call("GET", f"/api/v1/tenants/{tenant}/notification-channels/{channel['id']}", admin)
check("secret" not in again and again["signed"] is True, f"the secret is never read back: {again}")

call("POST", f"/api/v1/tenants/{tenant}/alert-rules", admin, {
    "name": "Spindle hot", "severity": "critical", "device": "press-01", "sensor": "temperature",
    "condition": {"type": "threshold", "operator": "above", "value": 80}, "channels": [channel["id"]],
})
now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
call("POST", f"/api/v1/tenants/{tenant}/metrics", admin,
     {"points": [{"device": "press-01", "sensor": "temperature", "time": now, "value": 91.5}]})
_, headers, body = wait("/json")

# Standard Webhooks: the library, given the secret as shown, verifies the headers unchanged.
event = Webhook(secret).verify(body, headers)
check(event["event"] == "firing" and event["value"] == 91.5 and event["tenant"] == tenant, f"payload: {event}")
check(headers["idempotency-key"] == headers["webhook-id"] == f"alert-{event['alert_id']}-1", f"ids: {headers}")
try:
    Webhook(secret).verify(body.replace(b"91.5", b"19.5"), headers)
    check(False, "a tampered body verified")
except WebhookVerificationError:
    pass

# Millwright's own header: hex HMAC-SHA256 of "timestamp.body" with the same key.
key = base64.b64decode(secret[len("whsec_"):])
timestamp = headers["x-millwright-timestamp"]
expected = "sha256=" + hmac.new(key, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
check(hmac.compare_digest(headers["x-millwright-signature"], expected), "X-Millwright-Signature does not verify")
check(abs(int(timestamp) - time.time()) < 300, "the timestamp is current")
tampered = "sha256=" + hmac.new(key, timestamp.encode() + b"." + body + b" ", hashlib.sha256).hexdigest()
check(tampered != headers["x-millwright-signature"], "a tampered body has another signature")

# Slack format: a message with text, through the test endpoint; unsigned channels carry no signature.
slack = call("POST", f"/api/v1/tenants/{tenant}/notification-channels", admin,
             {"name": "slack", "url": hook + "/slack", "format": "slack", "signed": False})
check("secret" not in slack and slack["signed"] is False, f"unsigned channel: {slack}")
call("POST", f"/api/v1/tenants/{tenant}/notification-channels/{slack['id']}/test", admin)
_, headers, body = wait("/slack")
message = json.loads(body)
check(isinstance(message.get("text"), str) and "test notification" in message["text"], f"slack message: {message}")
check("webhook-signature" not in headers and "x-millwright-signature" not in headers, "unsigned channel signed")
print("webhooks: standardwebhooks and HMAC verified the signatures; Slack message ok")
server.shutdown()
