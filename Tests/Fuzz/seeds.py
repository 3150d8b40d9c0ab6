"""Writes the fuzz targets' seed inputs into DIR/<target>/: the line-protocol corpus
that the conformance test uses, and inputs taken from the Swift tests.

    python3 Tests/Fuzz/seeds.py DIR
"""

import base64
import gzip
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jwt(header, claims):
    return f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(claims).encode())}.c2ln"


def seeds():
    with open(os.path.join(HERE, "..", "lineprotocol", "corpus.json")) as f:
        corpus = json.load(f)
    precisions = {"ns": 0, "us": 1, "ms": 2, "s": 3}
    for entry in corpus:
        body = base64.b64decode(entry["body_base64"]) if "body_base64" in entry else entry["body"].encode()
        if len(body) < 4096:
            yield "line-protocol", bytes([precisions[entry["precision"]]]) + body

    points = [
        {"points": [{"device": "d1", "sensor": "temp", "value": 21.5, "time": "2026-11-22T10:00:00.123Z"}]},
        {"points": [{"device": "d1", "sensor": "count", "value": 12345678901234567}, {"device": "d", "sensor": "s", "value": True}]},
        {"x": [1, {"y": None}], "points": [{"device": "d\u00e9", "sensor": "s\U0001F600", "value": "on", "time": None}]},
        {"points": [{"device": "d1", "sensor": "s", "value": [1, 2], "extra": {"a": [[]]}}]},
    ]
    for body in points:
        yield "json-points", json.dumps(body).encode()
    yield "json-points", b'{"points": [{"device": "\\ud83d\\ude00", "sensor": "s", "value": -0.5e-3}]}'
    yield "json-points", b'{"x":' + b"[" * 70
    # Found by the fuzzer: valid JSON grammar past a Double's range (Foundation refuses it).
    yield "json-points", b'{"points": [{"device": "d1", "sensor": "count", "value": 12e345678901234567}]}'

    registry = [
        {"id": "press-01", "name": "Press", "labels": {"line": "3"}, "timezone": "Europe/Berlin",
         "location": {"latitude": 48.1, "longitude": 11.5}, "metadata": {"a": [1, 2.5, None, True, "x"]}},
        {"key": "temp", "kind": "number", "unit": "°C", "min": -40, "max": 125},
        {"name": "acme", "device_limit": 1000, "retention_days": 30},
        {"metadata": {"nested": {"deeper": {"deepest": [[[[]]]]}}}},
    ]
    for body in registry:
        yield "registry-json", json.dumps(body).encode()
    yield "registry-json", b'{"a": "\\u0000", "b": 1e308, "c": -9223372036854775808}'

    for text in ["2026-11-22T10:00:00Z", "2026-11-22T10:00:00.123456789+05:30", "1970-01-01 00:00:00-00:00",
                 "0000-01-01T00:00:00+23:59", "9999-12-31T23:59:60.9999995Z", "2024-02-29t12:00:00z"]:
        yield "rfc3339", text.encode()

    for text in ["1m", "15m", "1h", "7d", "3650d", "0s", "-1s", b64url(b"t1732269600000000"), b64url(b"kpress-01"),
                 b64url(b"k\x00x"), "press-01", "9223372036854775807", "-9223372036854775808",
                 "0m", "120", "Sun, 06 Nov 1994 08:49:37 GMT", "Wed, 21 Oct 2026 07:28:00 GMT", " 3 ",
                 "9223372036854775808", "0000000000000000001", "line:3", ":x", "a:b:c", "é:ü"]:
        yield "query", text.encode()

    for body in [b"m,device=d1 v=1\n", json.dumps(points[0]).encode(), b"", b"0" * 4096]:
        yield "gzip", gzip.compress(body)
    yield "gzip", gzip.compress(b"a") + gzip.compress(b"b")

    token = jwt({"alg": "RS256", "kid": "k1", "typ": "JWT"}, {"iss": "http://127.0.0.1/realms/millwright", "exp": 1,
                                                           "tenant": ["acme"], "realm_access": {"roles": ["viewer"]}})
    for text in ["Bearer " + token, "bearer  " + token + " ", "Token mwk.acme.0123456789abcdef01." + "A" * 43,
                 "Basic dXNlcjpwYXNz", "Bearer a.b", "Bearer " + jwt({"alg": "none"}, {}), "0123456789abcdef01234567"]:
        yield "credentials", text.encode()

    for text in [b"127.0.0.1\x00203.0.113.9", b"10.0.0.0/8, ::1\x00203.0.113.9, 10.0.0.7",
                 b"192.168.0.0/16\x00garbage, 192.168.1.1", b"::1/128, 2001:db8::/32\x002001:db8::1"]:
        yield "proxy-headers", text


def main():
    out = sys.argv[1]
    counts = {}
    for target, data in seeds():
        folder = os.path.join(out, target)
        os.makedirs(folder, exist_ok=True)
        counts[target] = counts.get(target, 0) + 1
        with open(os.path.join(folder, f"seed-{counts[target]:04}"), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
