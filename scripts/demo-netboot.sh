#!/usr/bin/env bash
# npm run demo:netboot — one UEFI PXE → GRUB netboot through tftpfn, live on this terminal.
#
# A QEMU machine with OVMF firmware and no NIC option ROM (romfile=), so the firmware's own TFTP
# client (edk2) fetches grubnetx64.efi; GRUB then fetches its per-MAC grub.cfg (written by the
# `grub` example function from an inventory file) and a real Debian kernel and a tiny busybox
# initrd, both from a bucket route (a local bucket folder). The initrd's /init prints one line
# and powers off. Afterwards the session records of the boot are printed as a table.
#
# Everything runs in a private network namespace (unshare -n): a tap device with 192.0.2.1/24
# (TEST-NET-1, RFC 5737), dnsmasq for DHCP only (--port=0), the gateway on 192.0.2.1:69. Nothing
# touches this machine's network, and all of it is gone when the script ends. Needs root (the
# namespace, the tap device, port 69) and /dev/net/tun. About 15 s under software emulation.
#
# Environment: DEMO_TIMEOUT_S (QEMU's bound, default 180), DEMO_KEEP=1 keeps the temp folder.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$(pwd)

MAC=52:54:00:de:00:01
SERVER=192.0.2.1
TAP=tftpfn-demo0
BUCKET=netboot
QEMU_TIMEOUT_S=${DEMO_TIMEOUT_S:-180}
OVMF_CODE=/usr/share/OVMF/OVMF_CODE_4M.fd
OVMF_VARS=/usr/share/OVMF/OVMF_VARS_4M.fd
GRUB_NET_EFI=/usr/lib/grub/x86_64-efi/monolithic/grubnetx64.efi

say() { printf '\033[1mdemo:\033[0m %s\n' "$*"; }
die() { printf 'demo: %s\n' "$*" >&2; exit 1; }

# ---------------------------------------------------------------------------------------------
# Inside the namespace: `unshare -n` re-runs this script with --inside WORK.
# ---------------------------------------------------------------------------------------------
if [ "${1:-}" = "--inside" ]; then
  WORK=$2
  pids=()
  cleanup_inside() {
    # Our own children only, by pid: the gateway gets SIGTERM so it flushes its log.
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do
      for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -9 "$pid" 2>/dev/null || true
    done
  }
  trap cleanup_inside EXIT

  ip link set lo up
  ip tuntap add dev "$TAP" mode tap
  ip addr add "$SERVER/24" dev "$TAP"
  ip link set "$TAP" up

  dnsmasq --no-daemon --port=0 --interface="$TAP" --bind-interfaces \
    --dhcp-range=192.0.2.100,192.0.2.150,1h --dhcp-boot=grubnetx64.efi,,$SERVER \
    --dhcp-leasefile="$WORK/dnsmasq.leases" --pid-file="$WORK/dnsmasq.pid" \
    >"$WORK/dnsmasq.log" 2>&1 &
  pids+=($!)

  node bin/tftpfn.js serve -c "$WORK/gateway.json" >"$WORK/gateway.log" 2>&1 &
  pids+=($!)
  gateway_pid=$!
  # Bounded wait for the gateway's start-up line (it bundles the grub function first).
  for _ in $(seq 1 300); do
    grep -q '"event":"listening"' "$WORK/gateway.log" 2>/dev/null && break
    kill -0 "$gateway_pid" 2>/dev/null || { cat "$WORK/gateway.log" >&2; die "the gateway exited at start (log above)"; }
    sleep 0.1
  done
  grep -q '"event":"listening"' "$WORK/gateway.log" || { cat "$WORK/gateway.log" >&2; die "the gateway did not start within 30 s (log above)"; }
  kill -0 "${pids[0]}" 2>/dev/null || { cat "$WORK/dnsmasq.log" >&2; die "dnsmasq exited at start (log above)"; }
  say "dnsmasq (DHCP, boot file grubnetx64.efi) and tftpfn on $SERVER:69 are up in a private network namespace"
  say "starting QEMU (OVMF, virtio-net $MAC, no option ROM); the serial console follows. Ctrl-A X stops it."
  echo '------------------------------------------------------------------------------------------'

  started=$(date +%s%N)
  set +e
  # --foreground: QEMU stays in the terminal's process group, so it can read the keyboard.
  timeout --foreground --kill-after=5 "$QEMU_TIMEOUT_S" qemu-system-x86_64 -nographic -no-reboot -m 512 -machine q35 \
    -drive if=pflash,format=raw,readonly=on,file="$OVMF_CODE" \
    -drive if=pflash,format=raw,file="$WORK/OVMF_VARS.fd" \
    -netdev tap,id=n0,ifname="$TAP",script=no,downscript=no \
    -device virtio-net-pci,netdev=n0,romfile=,mac=$MAC \
    -serial mon:stdio | tee "$WORK/serial.log"
  qemu_rc=${PIPESTATUS[0]}
  set -e
  # QEMU puts a terminal in raw mode; a QEMU killed by the timeout leaves it there.
  [ -t 0 ] && stty sane 2>/dev/null
  elapsed_ms=$(( ($(date +%s%N) - started) / 1000000 ))
  echo
  echo '------------------------------------------------------------------------------------------'

  # The gateway writes its log line when a session ends; stop it so the last lines are flushed.
  kill "$gateway_pid" 2>/dev/null || true
  for _ in $(seq 1 100); do kill -0 "$gateway_pid" 2>/dev/null || break; sleep 0.1; done

  if grep -q 'TFTPFN-DEMO-OK' "$WORK/serial.log"; then
    say "booted: firmware → grubnetx64.efi → grub.cfg → kernel + initrd, all through tftpfn, in $((elapsed_ms / 1000)).$(( (elapsed_ms % 1000) / 100 )) s"
    result=0
  elif [ "$qemu_rc" = 124 ]; then
    say "FAILED: no boot line within ${QEMU_TIMEOUT_S} s; the console's last line: $(tr -d '\r' <"$WORK/serial.log" | grep -v '^\s*$' | tail -n 1)"
    result=1
  else
    say "FAILED: QEMU exited with $qemu_rc without the boot line; the console's last line: $(tr -d '\r' <"$WORK/serial.log" | grep -v '^\s*$' | tail -n 1)"
    result=1
  fi
  echo
  say "session records (the gateway's \"event\":\"session\" log lines, full JSON in $WORK/gateway.log):"
  echo
  node scripts/demo-netboot-records.mjs "$WORK/gateway.log" "$WORK/gateway.json" || result=1
  if grep -q 'DHCPACK' "$WORK/dnsmasq.log"; then
    echo
    say "DHCP: $(grep -c 'DHCPACK' "$WORK/dnsmasq.log") DHCPACK from dnsmasq ($(grep 'DHCPACK' "$WORK/dnsmasq.log" | tail -n 1 | sed 's/^.*DHCPACK/DHCPACK/'))"
  fi
  exit "$result"
fi

# ---------------------------------------------------------------------------------------------
# Outside: check, install, build, prepare the files, then enter the namespace.
# ---------------------------------------------------------------------------------------------
[ "$(id -u)" = 0 ] || die "needs root: it makes a network namespace and a tap device and binds port 69 inside it (try: sudo npm run demo:netboot)"
[ -c /dev/net/tun ] || die "needs /dev/net/tun for the tap device QEMU is wired to (in a container: --device /dev/net/tun)"
unshare -n true 2>/dev/null || die "cannot make a private network namespace here (unshare -n failed; in a container: --cap-add SYS_ADMIN NET_ADMIN)"

newest_kernel() { ls /boot/vmlinuz-* 2>/dev/null | sort -V | tail -n 1; }
# A static ELF has no PT_INTERP program header (the kernel must run it with no loader in the initrd).
is_static() {
  [ -x "$1" ] && node -e '
    const b = require("fs").readFileSync(process.argv[1]);
    if (b.readUInt32BE(0) !== 0x7f454c46 || b[4] !== 2) process.exit(1);
    const off = Number(b.readBigUInt64LE(0x20)), size = b.readUInt16LE(0x36), n = b.readUInt16LE(0x38);
    for (let i = 0; i < n; i++) if (b.readUInt32LE(off + i * size) === 3) process.exit(1);' "$1"
}
missing_packages() {
  local m=()
  command -v qemu-system-x86_64 >/dev/null || m+=(qemu-system-x86)
  { [ -f "$OVMF_CODE" ] && [ -f "$OVMF_VARS" ]; } || m+=(ovmf)
  [ -f "$GRUB_NET_EFI" ] || m+=(grub-efi-amd64-bin)
  command -v dnsmasq >/dev/null || [ -x /usr/sbin/dnsmasq ] || m+=(dnsmasq-base)
  is_static /bin/busybox || m+=(busybox-static)
  [ -n "$(newest_kernel)" ] || m+=(linux-image-amd64)
  echo "${m[@]}"
}
missing=$(missing_packages)
if [ -n "$missing" ]; then
  if command -v apt-get >/dev/null; then
    say "installing Debian packages: $missing"
    export DEBIAN_FRONTEND=noninteractive
    # shellcheck disable=SC2086
    apt-get install -y -q --no-install-recommends $missing \
      || { apt-get update -q && apt-get install -y -q --no-install-recommends $missing; } \
      || die "could not install: $missing"
    missing=$(missing_packages)
  fi
  [ -z "$missing" ] || die "missing (Debian package names): $missing — qemu-system-x86_64, $OVMF_CODE + $OVMF_VARS, $GRUB_NET_EFI, dnsmasq, a static /bin/busybox, /boot/vmlinuz-*"
fi
PATH=$PATH:/usr/sbin
KERNEL=$(newest_kernel)

[ -d node_modules ] || npm ci
[ -f dist/gateway/src/cli/main.js ] || npm run build --silent

WORK=$(mktemp -d /tmp/tftpfn-demo.XXXXXX)
cleanup() {
  if [ "${DEMO_KEEP:-}" = 1 ]; then say "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
# The grub function runs as `nobody` in its sandbox: it must be able to reach the inventory.
chmod 755 "$WORK"

# The initrd: a static busybox and an /init that says hello on the serial console and powers off.
mkdir -p "$WORK/initrd/bin" "$WORK/initrd/dev" "$WORK/initrd/proc"
cp /bin/busybox "$WORK/initrd/bin/busybox"
mknod "$WORK/initrd/dev/console" c 5 1
cat >"$WORK/initrd/init" <<'EOF'
#!/bin/busybox sh
/bin/busybox mount -t proc proc /proc
echo
echo "TFTPFN-DEMO-OK: /init of the initrd tftpfn served is running; kernel command line: $(/bin/busybox cat /proc/cmdline)"
echo
/bin/busybox poweroff -f
EOF
chmod 755 "$WORK/initrd/init"
( cd "$WORK/initrd" && find . | /bin/busybox cpio -o -H newc 2>/dev/null | gzip -1 ) >"$WORK/initrd.gz"

# The bucket (a local folder standing in for S3) holds the kernel and initrd under boot/.
mkdir -p "$WORK/buckets/$BUCKET/boot" "$WORK/tftproot"
cp "$KERNEL" "$WORK/buckets/$BUCKET/boot/vmlinuz"
cp "$WORK/initrd.gz" "$WORK/buckets/$BUCKET/boot/initrd.gz"
cp "$GRUB_NET_EFI" "$WORK/tftproot/grubnetx64.efi"
# Debian's grubnetx64.efi does not search grub.cfg-01-<mac>: its built-in config only says
# `source $prefix/grub.cfg` (prefix /grub). This one static file hands over to the per-machine
# config, by a name the grub function reads the MAC from (GRUB sets net_default_mac, colon form).
mkdir -p "$WORK/tftproot/grub"
cat >"$WORK/tftproot/grub/grub.cfg" <<'EOF'
# tftpfn demo: chain to this machine's own config, written by the grub function
echo "tftpfn demo: loading grub.cfg-${net_default_mac}"
configfile $prefix/grub.cfg-${net_default_mac}
EOF
cp "$OVMF_VARS" "$WORK/OVMF_VARS.fd"

cat >"$WORK/inventory.json" <<EOF
{
  "machines": {
    "$MAC": {
      "hostname": "demo-01",
      "kernel": "/boot/vmlinuz",
      "initrd": "/boot/initrd.gz",
      "cmdline": "console=ttyS0 panic=-1",
      "menuTimeout": 0
    }
  }
}
EOF
chmod 644 "$WORK/inventory.json"

cat >"$WORK/gateway.json" <<EOF
{
  "hosts": ["$SERVER"],
  "port": 69,
  "root": "$WORK/tftproot",
  "objectStore": "local",
  "bucketsDir": "$WORK/buckets",
  "functions": {
    "grub": {
      "entry": "$REPO/functions/grub/index.ts",
      "poolSize": 1,
      "vars": { "INVENTORY": "$WORK/inventory.json" },
      "allowRead": ["$WORK/inventory.json"]
    }
  },
  "routes": [
    { "match": "grub/grub.cfg", "folder": "$WORK/tftproot" },
    { "match": "**/grub.cfg", "function": "grub" },
    { "match": "**/grub.cfg-*", "function": "grub" },
    { "match": "boot/**", "bucket": "$BUCKET" }
  ],
  "defaultRoute": { "folder": "$WORK/tftproot" }
}
EOF

say "kernel $KERNEL ($(stat -c %s "$KERNEL") bytes), initrd $(stat -c %s "$WORK/initrd.gz") bytes, in $WORK"
say "gateway config: $WORK/gateway.json; inventory: $WORK/inventory.json (MAC $MAC)"
set +e
unshare -n -- bash "$0" --inside "$WORK"
rc=$?
set -e
exit "$rc"
