/**
 * What the boot tests run: QEMU with SeaBIOS + iPXE ROMs and OVMF, GRUB's network image,
 * dnsmasq, a static busybox and a Debian kernel (Debian packages qemu-system-x86, ovmf,
 * grub-efi-amd64-bin, dnsmasq-base, busybox-static, linux-image-amd64; scripts/test.sh installs
 * them). Each path can be overridden by an environment variable for other distributions.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { isStaticElf } from './initrd.js';

export interface BootTools {
  qemu: string;
  ovmfCode: string;
  ovmfVars: string;
  grubNetEfi: string;
  dnsmasq: string;
  busybox: string;
  kernel: string;
}

function first(...paths: (string | undefined)[]): string | undefined {
  return paths.find((p): p is string => p !== undefined && existsSync(p));
}

/** The newest /boot/vmlinuz-* (Debian's linux-image-amd64 puts it there). */
function newestKernel(): string | undefined {
  let names: string[] = [];
  try {
    names = readdirSync('/boot').filter((n) => n.startsWith('vmlinuz-'));
  } catch {
    return undefined;
  }
  names.sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
  return names.length > 0 ? join('/boot', names[names.length - 1]) : undefined;
}

/** The tools, or the list of what is missing (with the Debian package that brings it). */
export function findBootTools(): { tools?: BootTools; missing: string[] } {
  const env = process.env;
  const found = {
    qemu: first(env.TFTPFN_QEMU, '/usr/bin/qemu-system-x86_64'),
    ovmfCode: first(env.TFTPFN_OVMF_CODE, '/usr/share/OVMF/OVMF_CODE_4M.fd', '/usr/share/OVMF/OVMF_CODE.fd'),
    ovmfVars: first(env.TFTPFN_OVMF_VARS, '/usr/share/OVMF/OVMF_VARS_4M.fd', '/usr/share/OVMF/OVMF_VARS.fd'),
    grubNetEfi: first(env.TFTPFN_GRUBNET_EFI, '/usr/lib/grub/x86_64-efi/monolithic/grubnetx64.efi'),
    dnsmasq: first(env.TFTPFN_DNSMASQ, '/usr/sbin/dnsmasq'),
    busybox: first(env.TFTPFN_BUSYBOX, '/bin/busybox', '/usr/bin/busybox'),
    kernel: first(env.TFTPFN_BOOT_KERNEL, newestKernel()),
  };
  const packages: Record<keyof BootTools, string> = {
    qemu: 'qemu-system-x86',
    ovmfCode: 'ovmf',
    ovmfVars: 'ovmf',
    grubNetEfi: 'grub-efi-amd64-bin',
    dnsmasq: 'dnsmasq-base',
    busybox: 'busybox-static',
    kernel: 'linux-image-amd64',
  };
  const missing: string[] = [];
  for (const [k, v] of Object.entries(found) as [keyof BootTools, string | undefined][]) {
    if (v === undefined) missing.push(`${k} (Debian package ${packages[k]})`);
  }
  if (found.busybox && !isStaticElf(found.busybox)) missing.push(`a static busybox (${found.busybox} is dynamically linked; Debian package busybox-static)`);
  return missing.length > 0 ? { missing } : { tools: found as BootTools, missing };
}

/** The tools, or an error naming what is missing: the boot tests never skip for a missing package. */
export function requireBootTools(): BootTools {
  const found = findBootTools();
  if (!found.tools) throw new Error(`the boot tests need: ${found.missing.join(', ')} (scripts/test.sh installs them)`);
  return found.tools;
}
