"""Sends every body of corpus.json to the running service's /write, each into a tenant of
its own, and compares what it answers and stores with what the real InfluxDB did
(verdicts.json), allowing only the differences in differences.json and the registry's
own limits (README, "Line protocol"): device ids and sensor keys must fit their
patterns, times must lie within the tenant's retention and at most 10 minutes ahead,
numbers within 1e300 in magnitude.

    python3 Tests/lineprotocol/compare_http.py BASE_URL ISSUER_URL

Exits non-zero on the first body whose outcome differs, saying how.
"""

import base64
import datetime
import json
import os
import re
import sys
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "support"))
from millwright_api import API  # noqa: E402

api = API(sys.argv[1], sys.argv[2])
token, call = api.token, api.call
DEVICES = ("d1", "d2")
DEVICE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")
SENSOR_KEY = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$")
RETENTION_DAYS = 36500
FUTURE_MICROS = 10 * 60 * 1_000_000


def micros(text):
    moment = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return (moment - datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)) // datetime.timedelta(microseconds=1)


def stored(tenant, reader):
    """device|sensor|time|kind:value lines of everything the tenant holds."""
    lines = set()
    for device in DEVICES:
        status, sensors = call("GET", f"/api/v1/tenants/{tenant}/devices/{device}/sensors?limit=1000", reader)
        assert status == 200, (status, sensors)
        for sensor in sensors["items"]:
            path = f"/api/v1/tenants/{tenant}/devices/{device}/sensors/{sensor['key']}/points"
            status, page = call("GET", path + "?from=1900-01-01T00:00:00Z&to=2200-01-01T00:00:00Z&limit=10000", reader)
            assert status == 200, (status, page)
            for point in page["points"]:
                value = point["value"]
                if sensor["kind"] == "number":
                    value = float(value)
                lines.add((device, sensor["key"], micros(point["time"]), sensor["kind"], json.dumps(value)))
    return lines


def expected_points(verdict):
    """What InfluxDB stored, in Millwright's terms, the later of two points a microsecond apart winning."""
    latest = {}
    for point in sorted(verdict["points"], key=lambda p: p["time"] if isinstance(p["time"], int) else 0):
        ns = point["time"]
        time_us = None if ns == "now" else (ns + 500) // 1000 if ns >= 0 else -((-ns + 499) // 1000)
        for key, field in point["fields"].items():
            kind = {"float": "number", "integer": "integer", "boolean": "boolean", "string": "string"}[field["type"]]
            value = float(field["value"]) if kind == "number" else field["value"]
            latest[(point["tags"]["device"], f"{point['measurement']}.{key}", time_us)] = (kind, json.dumps(value))
    return {(d, s, t, k, v) for (d, s, t), (k, v) in latest.items()}


def registry_refusals(points, now_us):
    """The 422 codes the registry's limits give these points, if any."""
    codes = set()
    for device, sensor, time_us, kind, value in points:
        if device not in DEVICES:
            codes.add("unknown_device" if DEVICE_ID.match(device) else "unknown_device")
        elif not SENSOR_KEY.match(sensor):
            codes.add("invalid_sensor_key")
        elif time_us is not None and not (now_us - RETENTION_DAYS * 86_400_000_000 <= time_us <= now_us + FUTURE_MICROS):
            codes.add("time_out_of_bounds")
        elif kind == "string" and len(json.loads(value).encode()) > 65536:
            codes.add("invalid_value")
        elif kind == "number" and abs(json.loads(value)) > 1e300:
            codes.add("out_of_range")
    return codes


def main():
    corpus = json.load(open(os.path.join(HERE, "corpus.json")))
    verdicts = {v["name"]: v for v in json.load(open(os.path.join(HERE, "verdicts.json")))["verdicts"]}
    differences = json.load(open(os.path.join(HERE, "differences.json")))
    platform = token("platform-admin")
    failures = []
    counts = {}
    run = uuid.uuid4().hex[:6]
    for index, entry in enumerate(corpus):
        name, verdict = entry["name"], verdicts[entry["name"]]
        body = base64.b64decode(entry["body_base64"]) if "body_base64" in entry else entry["body"].encode()
        tenant = f"lp-{run}-{index}"
        status, answer = call("POST", "/api/v1/tenants", platform, {"id": tenant, "name": name[:200], "retention_days": RETENTION_DAYS})
        assert status == 201, (status, answer)
        admin = token("tenant-admin", tenant)
        status, answer = call("POST", f"/api/v1/tenants/{tenant}/devices/batch", admin, {"devices": [{"id": d} for d in DEVICES]})
        assert status == 201, (status, answer)
        now_us = time.time_ns() // 1000
        status, answer = call(
            "POST", f"/api/v1/tenants/{tenant}/write?precision={entry['precision']}", token("metrics-writer", tenant),
            raw=body, content_type="text/plain")
        codes = {e.get("code") for e in (answer or {}).get("errors", [])} if answer else set()
        got = stored(tenant, admin)

        difference = differences.get(name, {}).get("millwright")
        if difference == "syntax" or (difference is None and verdict["status"] != 204):
            wanted = "400" if difference == "syntax" or "unable to parse" in verdict.get("error", "") or verdict["status"] == 500 else "400 or 422"
            ok = (status == 400 or (wanted == "400 or 422" and status == 422)) and not got
        elif difference not in (None, "accepted"):
            wanted = f"422 {difference}"
            ok = status == 422 and difference in codes and not got
        else:
            if difference is None and any(not p["tags"].get("device") for p in verdict["points"]):
                wanted = "422 missing_device_tag"
                ok = status == 422 and "missing_device_tag" in codes and not got
            else:
                points = expected_points(verdict) if difference is None else None
                refusals = registry_refusals(points, now_us) if points is not None else set()
                if refusals:
                    wanted = f"422 {sorted(refusals)}"
                    ok = status == 422 and codes and codes <= refusals and not got
                elif difference == "accepted":
                    wanted = "204 and points stored"
                    ok = status == 204 and bool(got)
                else:
                    wanted = "204 and InfluxDB's points"
                    expected_now = {p for p in points if p[2] is None}
                    fixed = {p for p in points if p[2] is not None}
                    got_fixed = {p for p in got if p[2] is not None and (p[0], p[1], None, p[3], p[4]) not in expected_now}
                    got_now = {(p[0], p[1], None, p[3], p[4]) for p in got if abs(p[2] - now_us) < 60_000_000} & expected_now
                    ok = status == 204 and got_fixed == fixed and got_now == expected_now
        counts[wanted.split(" ")[0]] = counts.get(wanted.split(" ")[0], 0) + 1
        if not ok:
            failures.append(f"{name}: InfluxDB {verdict['status']} {verdict.get('error', '')[:80]!r}; wanted {wanted}; "
                            f"Millwright {status} {sorted(c for c in codes if c)} stored {sorted(got)[:3]}")
        call("DELETE", f"/api/v1/tenants/{tenant}", platform)
    for failure in failures:
        print("FAIL:", failure, file=sys.stderr)
    summary = ", ".join(f"{count} × {outcome}" for outcome, count in sorted(counts.items()))
    print(f"line protocol over HTTP: {len(corpus) - len(failures)} of {len(corpus)} bodies as InfluxDB or documented ({summary})")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
