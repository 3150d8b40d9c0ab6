#!/usr/bin/env bash
# What the ingest catalog costs the service's memory as tenants of 300,000 sensors each
# are written to (bench/catalog_memory.py). Prints a Markdown table.
#
#   scripts/bench-catalog.sh [TENANTS]                   (the release build of this checkout)
#   BENCH_BINARY=path scripts/bench-catalog.sh [TENANTS] (another build, e.g. an older commit)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
source scripts/throwaway-services.sh
bin=$(bench_binary)
throwaway_services millwright-bench-catalog "${BENCH_DB_PORT:-31355}"
throwaway_service "$bin" "${BENCH_PORT:-18097}"
bench_machine "$bin"
python3 bench/catalog_memory.py "$base" "$issuer" "$server_pid" "${1:-4}"
