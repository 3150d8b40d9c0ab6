#!/usr/bin/env bash
# What idle sockets from one client cost the others (bench/idle_sockets.py): the service
# runs with its descriptor limit at 1,024; one address opens 1,100 connections and sends
# nothing while another asks for /healthz. Prints a Markdown table.
#
#   scripts/bench-sockets.sh                   (the release build of this checkout)
#   BENCH_BINARY=path scripts/bench-sockets.sh (another build, e.g. an older commit)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
source scripts/throwaway-services.sh
bin=$(bench_binary)
# The service under a descriptor limit of 1,024, as a default systemd service has.
limited=$(mktemp /tmp/millwright-limited.XXXXXX)
printf '#!/bin/sh\nexec prlimit --nofile=1024:1024 %s "$@"\n' "$bin" >"$limited"
chmod +x "$limited"
throwaway_services millwright-bench-sockets "${BENCH_DB_PORT:-31354}"
throwaway_service "$limited" "${BENCH_PORT:-18096}"
rm -f "$limited"
bench_machine "$bin"
python3 bench/idle_sockets.py "${BENCH_PORT:-18096}" "$server_pid"
