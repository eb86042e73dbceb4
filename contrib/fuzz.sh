#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Builds the libFuzzer targets of tests/fuzz/ (clang, ASan + UBSan) in
# build-fuzz/ and runs each for $SOVD_FUZZ_SECONDS seconds (default 30),
# starting from a copy of its seed corpus, so the seeds in git are never
# modified. On a crash, leak or timeout: prints the report and the
# reproducer (kept under build-fuzz/fuzz-artifacts/) and exits non-zero.
#
# Usage: contrib/fuzz.sh [TARGET...]     targets: vm-spec config binding policy
#        snapshot-request backup-request restore-request domain-xml
# A reproducer replays with: build-fuzz/tests/fuzz/fuzz-TARGET FILE
# and, once fixed, belongs in tests/fuzz/corpus/TARGET/ as a seed.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${SOVD_FUZZ_SECONDS:-30}
build=build-fuzz
if [ $# -gt 0 ]; then
    targets=("$@")
else
    targets=(vm-spec config binding policy snapshot-request backup-request restore-request domain-xml)
fi
for t in "${targets[@]}"; do
    if [ ! -d "tests/fuzz/corpus/$t" ]; then
        echo "fuzz.sh: unknown target '$t'" >&2
        exit 2
    fi
done

cmake -S . -B "$build" -DCMAKE_C_COMPILER=clang -DSOVD_FUZZ=ON -DSOVD_SANITIZE=ON \
      -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j"$(nproc)" --target "${targets[@]/#/fuzz-}"

export ASAN_OPTIONS="detect_leaks=1:allocator_may_return_null=1"
export LSAN_OPTIONS="suppressions=$(pwd)/tests/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
status=0
for t in "${targets[@]}"; do
    corpus="$work/$t/corpus"
    artifacts="$work/$t/artifacts/"
    log="$work/$t/log"
    mkdir -p "$corpus" "$artifacts"
    cp "tests/fuzz/corpus/$t/"* "$corpus/"
    echo "== fuzz-$t: ${seconds}s from $(ls "$corpus" | wc -l) seeds"
    if "$build/tests/fuzz/fuzz-$t" -max_total_time="$seconds" -max_len=65536 -timeout=10 \
           -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$artifacts" "$corpus" 2>"$log"; then
        grep -E '^(Done [0-9]+ runs|stat::number_of_executed_units|stat::peak_rss_mb)' "$log" || tail -n 3 "$log"
        echo "   corpus grew to $(ls "$corpus" | wc -l) inputs (discarded)"
    else
        status=1
        echo "!! fuzz-$t failed:"
        tail -n 80 "$log"
        keep="$build/fuzz-artifacts/$t"
        mkdir -p "$keep"
        for a in "$artifacts"*; do
            [ -e "$a" ] || continue
            cp "$a" "$keep/"
            echo "reproducer: $keep/$(basename "$a") ($(stat -c %s "$a") bytes)"
            echo "  replay:   $build/tests/fuzz/fuzz-$t $keep/$(basename "$a")"
            echo "  base64:   $(base64 -w0 <"$a" | head -c 4096)"
        done
    fi
done
exit $status
