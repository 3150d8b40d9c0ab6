"""Records what the real InfluxDB 1.x answers and stores for each body of corpus.json,
into verdicts.json, which LineProtocolConformanceTests compares Millwright with.

Needs `influxd` (Debian 12: apt-get install influxdb, version 1.6.7). Not part of the
test command: the verdicts are committed, InfluxDB is not.

    python3 Tests/lineprotocol/record_verdicts.py
"""

import base64
import json
import os
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request

from influxd import influxd

HERE = os.path.dirname(os.path.abspath(__file__))
PRECISION = {"ns": "n", "us": "u", "ms": "ms", "s": "s"}


def request(base, path, params, body=None):
    url = f"{base}{path}?{urllib.parse.urlencode(params)}"
    req = urllib.request.Request(url, data=body, method="POST" if body is not None else "GET")
    try:
        with urllib.request.urlopen(req) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def query(base, db, text):
    status, body = request(base, "/query", {"db": db, "q": text, "epoch": "ns"})
    assert status == 200, (text, status, body)
    result = json.loads(body)["results"][0]
    assert "error" not in result, (text, result)
    return result.get("series", [])


def record(base, index, entry):
    body = base64.b64decode(entry["body_base64"]) if "body_base64" in entry else entry["body"].encode()
    db = f"c{index}"
    status, _ = request(base, "/query", {"q": f'CREATE DATABASE "{db}"'}, b"")
    assert status == 200
    before = time.time_ns()
    status, answer = request(base, "/write", {"db": db, "precision": PRECISION[entry["precision"]]}, body)
    after = time.time_ns()
    verdict = {"name": entry["name"], "status": status}
    if answer:
        verdict["error"] = json.loads(answer).get("error", answer.decode(errors="replace"))
    types = {}
    for series in query(base, db, "SHOW FIELD KEYS"):
        for key, kind in series["values"]:
            types[(series["name"], key)] = kind
    points = []
    for series in query(base, db, "SELECT * FROM /.*/ GROUP BY *"):
        columns = series["columns"]
        for row in series["values"]:
            stamp = row[0]
            fields = {}
            for column, value in zip(columns[1:], row[1:]):
                if value is None:
                    continue
                kind = types[(series["name"], column)]
                if kind == "float":
                    value = float(value)
                fields[column] = {"type": kind, "value": value}
            points.append(
                {
                    "measurement": series["name"],
                    "tags": series.get("tags") or {},
                    # A point without a timestamp gets the server's time, cut to the precision.
                    "time": "now" if before - 1_000_000_000 <= stamp <= after else stamp,
                    "fields": fields,
                }
            )
    points.sort(key=lambda p: (p["measurement"], json.dumps(p["tags"], sort_keys=True), str(p["time"])))
    verdict["points"] = points
    request(base, "/query", {"q": f'DROP DATABASE "{db}"'}, b"")
    return verdict


def main():
    with open(os.path.join(HERE, "corpus.json")) as f:
        corpus = json.load(f)
    version = subprocess.run(["influxd", "version"], capture_output=True, text=True).stdout.strip()
    with influxd() as base:
        verdicts = [record(base, index, entry) for index, entry in enumerate(corpus)]
    with open(os.path.join(HERE, "verdicts.json"), "w") as out:
        json.dump({"recorded_with": version, "verdicts": verdicts}, out, indent=1, ensure_ascii=True)
        out.write("\n")
    accepted = sum(1 for v in verdicts if v["status"] == 204)
    print(f"{len(verdicts)} verdicts from {version}: {accepted} accepted, {len(verdicts) - accepted} refused")


if __name__ == "__main__":
    main()
