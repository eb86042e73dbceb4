#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Builds sovd and runs every test: unit, integration (libvirt test driver),
# e2e (a private libvirtd + QEMU started by the tests themselves, as root)
# and the fuzz corpora replay. With --sanitize, the same in a separate
# AddressSanitizer + UBSan build.
set -euo pipefail
cd "$(dirname "$0")/.."

build=build
cmake_args=(-DCMAKE_BUILD_TYPE=RelWithDebInfo)
if [ "${1:-}" = "--sanitize" ]; then
    build=build-asan
    cmake_args=(-DCMAKE_BUILD_TYPE=Debug -DSOVD_SANITIZE=ON -DCMAKE_C_COMPILER=clang)
    export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:strict_string_checks=1"
    export LSAN_OPTIONS="suppressions=$(pwd)/tests/lsan.supp:print_suppressions=0"
    export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
fi

bash contrib/install-deps.sh
cmake -S . -B "$build" "${cmake_args[@]}" >/dev/null
cmake --build "$build" -j"$(nproc)"
cd "$build"
ctest --output-on-failure --timeout 900 -j2
