#!/usr/bin/env bash
# Runs the boot tests (test/boot, vitest.boot.config.ts): real firmware and boot loaders in QEMU
# netbooting through the gateway. They run inside a private network namespace made here
# (unshare -n): its own loopback, the tap device and test addresses of the UEFI test, and
# dnsmasq on port 69 never touch the machine's network. They need root (for the namespace, the
# tap device and port 69) and /dev/net/tun; where either is missing they are skipped, loudly.
# scripts/test.sh installs the Debian packages they need.
set -euo pipefail
cd "$(dirname "$0")/.."

why=""
[ "$(id -u)" = 0 ] || why="not root (the tests make a network namespace, a tap device and bind port 69)"
[ -z "$why" ] && [ ! -c /dev/net/tun ] && why="no /dev/net/tun (the UEFI test needs a tap device)"
if [ -z "$why" ] && ! unshare -n true 2>/dev/null; then why="unshare -n is not permitted here (no private network namespace)"; fi
if [ -n "$why" ]; then
  echo "################################################################################"
  echo "test-boot: SKIPPED the boot tests (test/boot): $why"
  echo "################################################################################"
  exit 0
fi

# shellcheck disable=SC2016
exec unshare -n -- bash -c 'ip link set lo up && exec npx vitest run -c vitest.boot.config.ts "$@"' test-boot "$@"
