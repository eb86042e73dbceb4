#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Installs every Debian 12 package sovd needs to build, run and test.
# Idempotent; run as root. Used by both README commands and by .ci/run.
set -euo pipefail

packages=(
    build-essential cmake pkg-config git
    libvirt-dev libjson-c-dev uuid-dev libsystemd-dev
    libmicrohttpd-dev libgnutls28-dev libcurl4-gnutls-dev
    clang libclang-rt-14-dev
    # Runtime of the embedded default and of the e2e tests.
    libvirt-daemon libvirt-daemon-system libvirt-clients
    qemu-system-x86 qemu-utils dnsmasq-base iproute2 util-linux
    procps curl python3 python3-yaml python3-jsonschema gnutls-bin
)

missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' \
        || missing+=("$p")
done

if [ "${#missing[@]}" -eq 0 ]; then
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    echo "install-deps: missing packages: ${missing[*]}; run as root" >&2
    exit 1
fi

export DEBIAN_FRONTEND=noninteractive
apt-get update -q
# force-confold: dpkg must not stop at a configuration-file question when a
# previous install left /etc/libvirt behind.
apt-get install -y -q --no-install-recommends \
    -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
    "${missing[@]}"
