#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Builds sovd and runs it in the foreground on the embedded default:
# libvirt's test driver (test:///default), demo host tags, a socket in a
# runtime directory. Ctrl-C stops it.
set -euo pipefail
cd "$(dirname "$0")/.."

bash contrib/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)" --target sovd sovctl

if [ "$(id -u)" -eq 0 ]; then
    socket=/run/sovd/sovd.sock
else
    socket="${XDG_RUNTIME_DIR:-/tmp/sovd-$(id -u)}/sovd/sovd.sock"
fi

cat <<MSG

sovd is starting on libvirt's test driver (test:///default) with demo host tags.
The API listens on the Unix socket ${socket}
Try, from another terminal:
    $(pwd)/build/api/sovctl/sovctl --socket ${socket} host
    $(pwd)/build/api/sovctl/sovctl --socket ${socket} vm list
    curl --unix-socket ${socket} http://localhost/v1/host
Stop it with Ctrl-C.

MSG
exec ./build/sovd
