#!/usr/bin/env bash
# What reading back data stored at the caps costs the service: response bytes, time
# and peak memory for device lists, raw points, latest points and aggregates of long
# strings (bench/read_bounds.py). Prints a Markdown table.
#
#   scripts/bench-reads.sh                   (the release build of this checkout)
#   BENCH_BINARY=path scripts/bench-reads.sh (another build, e.g. an older commit)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
source scripts/throwaway-services.sh
bin=$(bench_binary)
throwaway_services millwright-bench-reads "${BENCH_DB_PORT:-31352}"
throwaway_service "$bin" "${BENCH_PORT:-18094}"
bench_machine "$bin"
python3 bench/read_bounds.py "$base" "$issuer" "$server_pid"
