#!/usr/bin/env bash
# Installs what building, running and testing Millwright needs on Debian 12.
# Idempotent; skips apt when everything is already there.
set -euo pipefail

packages=(libpq-dev libjwt-dev libcurl4-openssl-dev libssl-dev zlib1g-dev pkg-config postgresql-15 postgresql-15-partman python3 python3-pip curl systemd nginx openssl prometheus)
missing=()
for package in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if ((${#missing[@]})); then
    echo "installing: ${missing[*]}" >&2
    SUDO=""
    [[ $(id -u) -ne 0 ]] && SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The development issuer signs tokens with the cryptography package.
python3 -c "import cryptography" 2>/dev/null || python3 -m pip install --quiet cryptography
# The contract test drives the API from openapi.yaml.
python3 -c "import schemathesis" 2>/dev/null || python3 -m pip install --quiet schemathesis
# The official InfluxDB v2 client writes through /api/v2/write in a test.
python3 -c "import influxdb_client" 2>/dev/null || python3 -m pip install --quiet influxdb-client
# The Standard Webhooks project's library verifies webhook signatures in a test.
python3 -c "import standardwebhooks" 2>/dev/null || python3 -m pip install --quiet standardwebhooks
# Independent clients of the live streams: httpx-sse (Server-Sent Events) and websockets.
python3 -c "import httpx_sse, httpx, websockets" 2>/dev/null || python3 -m pip install --quiet httpx httpx-sse websockets
