/**
 * Builds the test initrd: a gzip'd cpio "newc" archive (the format the kernel unpacks,
 * Documentation/driver-api/early-userspace/buffer-format.rst) holding a static busybox and an
 * /init that prints this run's marker and the kernel command line on the serial console, then
 * powers the machine off. The marker is random per run and lives only in this initrd; the
 * command line carries a second random token that only the per-machine config names. Seeing
 * both on the console proves that this run's config, kernel and initrd all came through the
 * gateway.
 */
import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';

/** The line /init prints: `TFTPFN-BOOT-OK marker=<marker> cmdline=<the kernel command line>`. */
export const BOOT_OK = 'TFTPFN-BOOT-OK';

const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFCHR = 0o020000;

interface CpioEntry {
  name: string;
  mode: number;
  data?: Buffer;
  /** Character devices: major, minor. */
  rdev?: [number, number];
}

const hex8 = (n: number) => n.toString(16).padStart(8, '0');
const pad4 = (n: number) => (4 - (n % 4)) % 4;

function cpioNewc(entries: CpioEntry[]): Buffer {
  const parts: Buffer[] = [];
  let ino = 1;
  for (const e of [...entries, { name: 'TRAILER!!!', mode: 0 }]) {
    const data = e.data ?? Buffer.alloc(0);
    const name = Buffer.from(`${e.name}\0`);
    const fields = [
      ino++, e.mode, 0, 0, e.mode & S_IFDIR ? 2 : 1, 0, data.length,
      0, 0, e.rdev?.[0] ?? 0, e.rdev?.[1] ?? 0, name.length, 0,
    ];
    const header = Buffer.from(`070701${fields.map(hex8).join('')}`, 'ascii');
    parts.push(header, name, Buffer.alloc(pad4(header.length + name.length)), data, Buffer.alloc(pad4(data.length)));
  }
  return Buffer.concat(parts);
}

/** True when the file is a statically linked ELF (no PT_INTERP program header). */
export function isStaticElf(path: string): boolean {
  const elf = readFileSync(path);
  if (elf.readUInt32BE(0) !== 0x7f454c46 || elf[4] !== 2) return false; // 64-bit ELF only
  const phoff = Number(elf.readBigUInt64LE(0x20));
  const phentsize = elf.readUInt16LE(0x36);
  const phnum = elf.readUInt16LE(0x38);
  for (let i = 0; i < phnum; i++) if (elf.readUInt32LE(phoff + i * phentsize) === 3) return false; // PT_INTERP
  return true;
}

export function buildInitrd(busyboxPath: string, marker: string): Buffer {
  const init = [
    '#!/bin/busybox sh',
    '/bin/busybox mkdir -p /proc',
    '/bin/busybox mount -t proc proc /proc',
    `echo "${BOOT_OK} marker=${marker} cmdline=$(/bin/busybox cat /proc/cmdline)"`,
    '/bin/busybox poweroff -f',
    '',
  ].join('\n');
  return gzipSync(
    cpioNewc([
      { name: 'bin', mode: S_IFDIR | 0o755 },
      { name: 'dev', mode: S_IFDIR | 0o755 },
      { name: 'dev/console', mode: S_IFCHR | 0o600, rdev: [5, 1] },
      { name: 'proc', mode: S_IFDIR | 0o755 },
      { name: 'bin/busybox', mode: S_IFREG | 0o755, data: readFileSync(busyboxPath) },
      { name: 'init', mode: S_IFREG | 0o755, data: Buffer.from(init) },
    ]),
    { level: 1 },
  );
}
