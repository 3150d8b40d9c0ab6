#!/usr/bin/env bash
# Fuzzes every parser of bytes a client controls (Tests/Fuzz/FuzzTargets.swift) with
# libFuzzer and AddressSanitizer, each for SECONDS (default 4: the test command's bounded
# run); fails on the first crash, trap, leak-free abort or failed check, and leaves the
# input that did it in .build-fuzz/artifacts/. Before a release, run it longer:
#
#   scripts/fuzz.sh 600            # ten minutes per target
#   scripts/fuzz.sh 60 gzip        # one target
#
# What a run finds interesting is kept in .build-fuzz/corpus/, so runs build on each other.
# A crash becomes a regression test in Tests/MillwrightTests before it is fixed.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-4}
shift || true
targets=("$@")
((${#targets[@]})) || targets=(line-protocol json-points registry-json rfc3339 query gzip credentials proxy-headers)

out=.build-fuzz
mkdir -p "$out/artifacts"
sources=(Sources/InputParsing Sources/Gzip/Gzip.swift Tests/Fuzz/FuzzTargets.swift)
if [[ ! -x $out/fuzz ]] || [[ -n $(find "${sources[@]}" -newer "$out/fuzz" -name '*.swift' | head -1) ]]; then
    echo "building the fuzz targets (swiftc -sanitize=fuzzer,address)" >&2
    # The linker's warnings about ASan's local symbols are harmless and many.
    swiftc -sanitize=fuzzer,address -parse-as-library -O -g -swift-version 6 -module-name FuzzTargets \
        $(find Sources/InputParsing -name '*.swift' | sort) Sources/Gzip/Gzip.swift Tests/Fuzz/FuzzTargets.swift \
        -I Sources/CZlib -o "$out/fuzz.new" 2> >(grep -v "Cannot export local symbol" >&2)
    mv "$out/fuzz.new" "$out/fuzz"
fi
python3 Tests/Fuzz/seeds.py "$out/seeds"

for target in "${targets[@]}"; do
    mkdir -p "$out/corpus/$target"
    log="$out/$target.log"
    if ! SWIFT_BACKTRACE=enable=no MILLWRIGHT_FUZZ_TARGET=$target "$out/fuzz" "$out/corpus/$target" "$out/seeds/$target" \
        -max_total_time="$seconds" -max_len=65536 -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="$out/artifacts/$target-" >"$log" 2>&1; then
        tail -40 "$log" >&2
        echo "fuzz: $target FAILED; the input is in $out/artifacts/ (see $log)" >&2
        exit 1
    fi
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo "?")
    echo "fuzz: $target ok, $runs inputs in ${seconds}s"
done
