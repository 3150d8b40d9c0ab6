#!/usr/bin/env bash
# Checks the files in deploy/ with the real tools:
#   - the systemd unit with `systemd-analyze verify`, its /usr/local/bin/millwright
#     pointing at BINARY (the only change: the tool checks that the program exists);
#   - the environment example names every variable the service reads, and nothing else.
#
#   scripts/verify-deploy.sh BINARY
set -euo pipefail
cd "$(dirname "$0")/.."
binary=${1:?the built millwright binary}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

sed "s|/usr/local/bin/millwright|$binary|g" deploy/systemd/millwright.service >"$work/millwright.service"
# verify only warns about some mistakes (an unknown value is "ignoring"): any output fails.
if ! output=$(systemd-analyze verify "$work/millwright.service" 2>&1) || [[ -n "$output" ]]; then
    echo "systemd-analyze verify deploy/systemd/millwright.service:" >&2
    echo "$output" >&2
    exit 1
fi

read_by_service=$(grep -rhoE '"MILLWRIGHT_[A-Z_]+"' Sources/API/Configuration | tr -d '"' | sort -u)
documented=$(grep -oE '^#?MILLWRIGHT_[A-Z_]+=' deploy/millwright.env.example | tr -d '#=' | sort -u)
if [[ "$read_by_service" != "$documented" ]]; then
    echo "deploy/millwright.env.example and the service disagree on the variables:" >&2
    diff <(echo "$read_by_service") <(echo "$documented") >&2 || true
    exit 1
fi
help=$("$binary" --help)  # read whole: `--help | grep -q` fails under pipefail once grep stops reading early
for variable in $read_by_service; do
    grep -q "$variable" <<<"$help" || { echo "millwright --help does not list $variable" >&2; exit 1; }
done
echo "deploy: systemd unit verified; $(echo "$read_by_service" | wc -l) variables documented in the example and in --help"
