#!/usr/bin/env bash
# Runs every test. Installs what the tests need when it is missing: node_modules (which holds
# s3rver, the S3-compatible server), the Debian packages of the independent TFTP clients (curl,
# tftp-hpa, atftp, busybox) and of redis-server, and what the boot tests run (QEMU with SeaBIOS
# and iPXE, OVMF, GRUB's network image, dnsmasq, a static busybox, a Debian kernel).
# The main suite runs first, then the boot tests (scripts/test-boot.sh) in their own network
# namespace.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v curl >/dev/null || missing+=(curl)
command -v tftp >/dev/null || missing+=(tftp-hpa)
command -v atftp >/dev/null || missing+=(atftp)
# busybox-static: the boot tests put it in an initrd, and it serves the interop tests as well.
if ! command -v busybox >/dev/null || ldd "$(command -v busybox)" >/dev/null 2>&1; then missing+=(busybox-static); fi
command -v ip >/dev/null || missing+=(iproute2)
command -v qemu-system-x86_64 >/dev/null || missing+=(qemu-system-x86)
[ -e /usr/share/OVMF/OVMF_CODE_4M.fd ] || missing+=(ovmf)
[ -e /usr/lib/grub/x86_64-efi/monolithic/grubnetx64.efi ] || missing+=(grub-efi-amd64-bin)
[ -x /usr/sbin/dnsmasq ] || missing+=(dnsmasq-base)
compgen -G '/boot/vmlinuz-*' >/dev/null || missing+=(linux-image-amd64)
command -v redis-server >/dev/null || missing+=(redis-server)
if [ ${#missing[@]} -gt 0 ]; then
  echo "test: installing Debian packages: ${missing[*]}"
  sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get install -y -q --no-install-recommends "${missing[@]}" \
    || { $sudo apt-get update -q && $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"; }
fi

[ -d node_modules ] || npm ci
npm run build --silent
npx tsc --noEmit -p tsconfig.json
if [ $# -gt 0 ]; then
  # Named test files or filters: the main project only (the boot tests: scripts/test-boot.sh).
  exec npx vitest run "$@"
fi
npx vitest run
bash scripts/test-boot.sh
