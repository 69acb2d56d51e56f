/**
 * BIOS + iPXE netboot through the gateway: SeaBIOS runs the NIC's iPXE option ROM, which takes
 * its boot file name from QEMU's user-mode DHCP (`tftp://10.0.2.2:PORT/${mac:hexhyp}.ipxe`;
 * the guest reaches the host's loopback as 10.0.2.2, and user-mode networking answers port 69
 * of 10.0.2.2 itself, so the gateway uses another port). The `ipxe` example function writes the
 * per-MAC script from the inventory in Redis; the script chains the kernel and initrd, which the
 * gateway streams from the S3-compatible server. Runs in the boot project (scripts/test-boot.sh),
 * inside a private network namespace like the UEFI test, though this path needs only loopback.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { SessionRecord } from '../../gateway/src/index.js';
import { BOOT_OK } from './lab/initrd.js';
import { INITRD_PATH, KERNEL_PATH, startBootLab, streamRecordsFor, type BootLab, type LabGateway } from './lab/boot-lab.js';
import { bootUntil } from './lab/qemu.js';
import { requireBootTools, type BootTools } from './lab/tools.js';

const MAC = '52:54:00:b1:05:01';
const UNKNOWN_MAC = '52:54:00:b1:05:99';
const BOOT_MS = 120_000;
const hexhyp = (mac: string) => mac.replaceAll(':', '-');

let tools: BootTools;
let lab: BootLab;

beforeAll(async () => {
  tools = requireBootTools();
  lab = await startBootLab(tools, MAC);
});
afterAll(async () => {
  await lab?.close();
});

/** QEMU arguments for a BIOS machine whose iPXE ROM fetches `bootfile` from user-mode DHCP. */
function biosMachine(mac: string, bootfile: string): string[] {
  // Both stacks, always: iPXE's "Configuring" waits for IPv6 router advertisements as well as
  // DHCPv4, so an IPv4-only network costs every boot about 13 s of waiting. ipv4=on is spelled
  // out because QEMU turns IPv4 off when only ipv6=on is given (and iPXE then has no DHCPv4
  // file name: "Nothing to boot").
  return ['-netdev', `user,id=n0,ipv4=on,ipv6=on,bootfile=${bootfile}`, '-device', `e1000,netdev=n0,mac=${mac}`, '-boot', 'n'];
}

const bootLine = (token: string) => new RegExp(`${BOOT_OK} marker=${lab.marker} cmdline=.*tftpfn\\.token=${token}`);

function recordOf(records: SessionRecord[], file: string): SessionRecord {
  const r = records.find((x) => x.fileNormalized === file || x.file === file);
  if (!r) throw new Error(`no session record for ${file}; records: ${records.map((x) => `${x.file}:${x.outcome}`).join(', ')}`);
  return r;
}

/** The three files of one iPXE boot: the per-MAC script, the kernel and the initrd, all ok, whole. */
function expectIpxeBoot(records: SessionRecord[], mac: string): void {
  const script = recordOf(records, `${hexhyp(mac)}.ipxe`);
  expect(script).toMatchObject({ outcome: 'ok', function: 'ipxe' });
  expect(script.bytes).toBeGreaterThan(0);
  expect(recordOf(records, KERNEL_PATH)).toMatchObject({ outcome: 'ok', bytes: lab.kernelBytes });
  expect(recordOf(records, INITRD_PATH)).toMatchObject({ outcome: 'ok', bytes: lab.initrdBytes });
}

/** No warning or error line, and no stack trace, in what the gateway logged. */
function expectQuietLogs(gw: LabGateway): void {
  const loud = gw.logs.filter((l) => (l.level as number) >= 40 || JSON.stringify(l).includes('    at '));
  expect(loud, JSON.stringify(loud).slice(0, 2000)).toEqual([]);
}

describe('BIOS + iPXE: SeaBIOS, the iPXE ROM, a per-MAC script from a function, kernel and initrd from the bucket', () => {
  let first: LabGateway;

  test('first boot: the known MAC gets its script, the kernel and initrd come from the bucket, records land in Redis', async () => {
    first = await lab.gateway({ hosts: ['127.0.0.1'] });
    const run = await bootUntil(tools.qemu, biosMachine(MAC, `tftp://10.0.2.2:${first.port}/\${mac:hexhyp}.ipxe`), bootLine(lab.known.token), BOOT_MS, 'BIOS iPXE boot');
    expect(run.serial).toContain(`tftpfn: booting ${lab.known.hostname}`);
    expectIpxeBoot(first.records, MAC);
    expect((await lab.bucketGets(KERNEL_PATH)).length).toBeGreaterThan(0);
    expect((await lab.bucketGets(INITRD_PATH)).length).toBeGreaterThan(0);

    const gatewayId = first.records[0].gateway;
    const stream = await streamRecordsFor(lab, (r) => r.gateway === gatewayId && r.outcome === 'ok', 3);
    expectIpxeBoot(stream, MAC);
    expectQuietLogs(first);
  });

  test('second boot, on a fresh gateway: every byte from the shared Redis cache, no new GET at the bucket', async () => {
    const getsBefore = (await lab.bucketGets(KERNEL_PATH)).length + (await lab.bucketGets(INITRD_PATH)).length;
    // A new gateway holds nothing in memory: what it does not fetch from the bucket comes from Redis.
    const second = await lab.gateway({ hosts: ['127.0.0.1'] });
    await bootUntil(tools.qemu, biosMachine(MAC, `tftp://10.0.2.2:${second.port}/\${mac:hexhyp}.ipxe`), bootLine(lab.known.token), BOOT_MS, 'second BIOS iPXE boot');
    expectIpxeBoot(second.records, MAC);
    const getsAfter = (await lab.bucketGets(KERNEL_PATH)).length + (await lab.bucketGets(INITRD_PATH)).length;
    expect(getsAfter - getsBefore).toBe(0);
    const objects = second.running.stats().objects!;
    expect(objects.upstreamGets).toBe(0);
    expect(objects.cacheHits).toBeGreaterThan(0);
    expect(objects.bytesFromCache).toBe(lab.kernelBytes + lab.initrdBytes);
    expect(objects.cacheMisses).toBe(0);
    for (const file of [KERNEL_PATH, INITRD_PATH]) expect(recordOf(second.records, file).cacheHit).toBe(true);
  });

  test('single-port mode, and a MAC the inventory does not list gets the default entry', async () => {
    const gw = await lab.gateway({ hosts: ['127.0.0.1'], singlePort: true });
    const run = await bootUntil(tools.qemu, biosMachine(UNKNOWN_MAC, `tftp://10.0.2.2:${gw.port}/\${mac:hexhyp}.ipxe`), bootLine(lab.defaultToken), BOOT_MS, 'single-port BIOS iPXE boot');
    expect(run.serial).toContain('tftpfn: booting unknown-machine');
    expectIpxeBoot(gw.records, UNKNOWN_MAC);
    // Every session of the boot was served from the listening port itself.
    for (const r of gw.records) expect(r.local.port).toBe(gw.port);
    expectQuietLogs(gw);
  });

  test('IPv6: the gateway on ::1, iPXE fetching tftp://[fec0::2]:PORT/ over user-mode IPv6', async () => {
    const gw = await lab.gateway({ hosts: ['::1'] });
    // The boot file name comes from DHCPv4 (user-mode networking's DHCPv6 can only name port
    // 69 of its own address, which it keeps for itself), so the machine has both stacks, and
    // iPXE follows the IPv6 URL.
    await bootUntil(tools.qemu, biosMachine(MAC, `tftp://[fec0::2]:${gw.port}/\${mac:hexhyp}.ipxe`), bootLine(lab.known.token), BOOT_MS, 'IPv6 BIOS iPXE boot');
    expectIpxeBoot(gw.records, MAC);
    for (const r of gw.records) expect(r.peer.family).toBe('IPv6');
  });
});
