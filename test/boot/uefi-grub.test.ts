/**
 * UEFI PXE → GRUB netboot through the gateway, the data-center path fbtftp was built for: OVMF
 * with the NIC's option ROM disabled (romfile=), so the firmware's own TFTP client (edk2) fetches
 * GRUB's network image named by a real DHCP server (dnsmasq); GRUB's TFTP client then fetches its
 * per-machine grub.cfg (the `grub` example function, from the inventory in Redis), and the
 * kernel and initrd from the S3-compatible server through a bucket route. The firmware needs
 * port 69 and a DHCP server, so this runs on a tap device with a test address inside the private
 * network namespace of scripts/test-boot.sh.
 */
import { copyFileSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { SessionRecord } from '../../gateway/src/index.js';
import { BOOT_OK } from './lab/initrd.js';
import { GRUB_HANDOVER, GRUB_HANDOVER_CFG, GRUB_IMAGE, INITRD_PATH, KERNEL_PATH, startBootLab, streamRecordsFor, type BootLab, type LabGateway } from './lab/boot-lab.js';
import { SERVER_ADDRESS, startTapNetwork, type TapNetwork } from './lab/netns.js';
import { bootUntil } from './lab/qemu.js';
import { requireBootTools, type BootTools } from './lab/tools.js';

const MAC = '52:54:00:ef:11:01';
const TAP = 'tftpfn-uefi0';
const BOOT_MS = 180_000;

let tools: BootTools;
let lab: BootLab;
let net: TapNetwork;
let scratch: string;

beforeAll(async () => {
  tools = requireBootTools();
  scratch = mkdtempSync(join(tmpdir(), 'tftpfn-uefi-'));
  net = await startTapNetwork(TAP, GRUB_IMAGE, tools.dnsmasq);
  lab = await startBootLab(tools, MAC);
});
afterAll(async () => {
  await lab?.close();
  await net?.close();
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

function uefiMachine(mac: string): string[] {
  // The firmware writes its variables (boot order, PXE state): each run gets a fresh copy.
  const vars = join(scratch, `vars-${Date.now()}.fd`);
  copyFileSync(tools.ovmfVars, vars);
  return [
    '-machine', 'q35',
    '-drive', `if=pflash,format=raw,readonly=on,file=${tools.ovmfCode}`,
    '-drive', `if=pflash,format=raw,file=${vars}`,
    '-netdev', `tap,id=n0,ifname=${TAP},script=no,downscript=no`,
    // romfile= (empty): no iPXE ROM on the NIC, so OVMF's own PXE client (edk2) does the TFTP.
    '-device', `virtio-net-pci,netdev=n0,romfile=,mac=${mac}`,
  ];
}

const of = (records: SessionRecord[], file: string) => records.filter((r) => r.fileNormalized === file);

describe('UEFI PXE → GRUB: edk2 fetches GRUB, GRUB fetches its per-MAC grub.cfg, the kernel and initrd', () => {
  let gw: LabGateway;

  test('boots, and every file of the boot is recorded with the right bytes and outcome', async () => {
    gw = await lab.gateway({ hosts: [SERVER_ADDRESS], port: 69 });
    const bootLine = new RegExp(`${BOOT_OK} marker=${lab.marker} cmdline=.*tftpfn\\.token=${lab.known.token}`);
    await bootUntil(tools.qemu, uefiMachine(MAC), bootLine, BOOT_MS, 'UEFI PXE → GRUB boot');
    expect(net.dhcpLog()).toContain(GRUB_IMAGE);

    // edk2 asks tsize with blksize and windowsize, aborts the OACK with ERROR 8 once it has the
    // size, and asks again without tsize: the first is an option probe, not a failure.
    const grubImage = of(gw.records, GRUB_IMAGE);
    expect(grubImage.map((r) => r.outcome)).toEqual(['option-probe', 'ok']);
    expect(grubImage[0].optionsRequested).toHaveProperty('tsize');
    expect(grubImage[1]).toMatchObject({ bytes: statSync(tools.grubNetEfi).size });
    expect(Number(grubImage[1].optionsRequested.blksize)).toBeGreaterThan(512);

    // GRUB reads the folder's grub/grub.cfg, which hands over to grub.cfg-<mac>: the function
    // answers that from the inventory in Redis.
    expect(of(gw.records, GRUB_HANDOVER)).toMatchObject([{ outcome: 'ok', bytes: GRUB_HANDOVER_CFG.length }]);
    const configs = gw.records.filter((r) => r.function === 'grub');
    expect(configs).toMatchObject([{ outcome: 'ok', fileNormalized: `grub/grub.cfg-${MAC}` }]);
    expect(of(gw.records, KERNEL_PATH)).toMatchObject([{ outcome: 'ok', bytes: lab.kernelBytes, optionsRequested: { blksize: '1024' } }]);
    expect(of(gw.records, INITRD_PATH)).toMatchObject([{ outcome: 'ok', bytes: lab.initrdBytes }]);

    // GRUB's probes of module lists that do not exist are normal: not-found, and quiet.
    const probes = gw.records.filter((r) => /\.lst$/.test(r.fileNormalized ?? ''));
    expect(probes.length).toBeGreaterThan(0);
    for (const p of probes) expect(p.outcome).toBe('not-found');
    const loud = gw.logs.filter((l) => (l.level as number) >= 40 || JSON.stringify(l).includes('    at '));
    expect(loud, JSON.stringify(loud).slice(0, 2000)).toEqual([]);

    // The same records, in the Redis stream.
    const gatewayId = gw.records[0].gateway;
    const stream = await streamRecordsFor(lab, (r) => r.gateway === gatewayId, gw.records.length);
    expect(stream.map((r) => `${r.fileNormalized}:${r.outcome}:${r.bytes}`).sort()).toEqual(gw.records.map((r) => `${r.fileNormalized}:${r.outcome}:${r.bytes}`).sort());
  });
});
