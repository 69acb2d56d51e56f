/**
 * The provisioning stack a boot test runs against, all real parts:
 *  - a redis-server holding the machine inventory (written by `tftpfn kv import`, the operator's
 *    command), the shared object cache and the stream of session records;
 *  - an S3-compatible server (s3rver, counting every request) whose bucket holds the kernel and
 *    this run's initrd;
 *  - the gateway, with the example functions `ipxe` and `grub` answering the per-machine
 *    scripts, a bucket route for boot/** and a folder for GRUB's network image.
 * The kernel command line in the inventory carries a random token and the initrd a random
 * marker (initrd.ts), so a console line with both can only come from this run's files.
 */
import { randomBytes } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { expect } from 'vitest';
import { startGateway, type GatewayConfigInput, type RunningGateway, type SessionRecord } from '../../../gateway/src/index.js';
import { REPO, runCli } from '../../helpers/cli.js';
import { startRedis, type RespReply, type TestRedis } from '../../helpers/redis-server.js';
import { startS3rver, type S3rverRequest, type TestS3rver } from '../../helpers/s3rver.js';
import { buildInitrd } from './initrd.js';
import type { BootTools } from './tools.js';

export const BUCKET = 'netboot';
export const KERNEL_PATH = 'boot/vmlinuz';
export const INITRD_PATH = 'boot/initrd.gz';
export const GRUB_IMAGE = 'grubnetx64.efi';
/**
 * Debian's signed network GRUB (grub-efi-amd64-bin 2.06) runs an embedded config that sources
 * $prefix/grub.cfg and never searches grub.cfg-01-<mac> and friends itself, so the folder holds
 * a one-line grub/grub.cfg that hands over to the per-machine name, which the `grub` function
 * answers (docs/NETBOOT.md).
 */
export const GRUB_HANDOVER = 'grub/grub.cfg';
export const GRUB_HANDOVER_CFG = 'source $prefix/grub.cfg-$net_default_mac\n';
const STREAM_KEY = 'tftpfn:sessions';

export interface LabMachine {
  mac: string;
  hostname: string;
  /** The random word on this machine's kernel command line (tftpfn.token=...). */
  token: string;
}

export interface BootLab {
  readonly redis: TestRedis;
  readonly s3: TestS3rver;
  /** The random word /init prints: only this run's initrd has it. */
  readonly marker: string;
  readonly kernelBytes: number;
  readonly initrdBytes: number;
  /** A machine the inventory lists by MAC, and the token the inventory's default entry carries. */
  readonly known: LabMachine;
  readonly defaultToken: string;
  /** Starts a gateway on the lab's Redis and bucket (closing the previous one). */
  gateway(overrides: GatewayConfigInput): Promise<LabGateway>;
  /** Every record in the Redis stream, oldest first. */
  streamRecords(): Promise<SessionRecord[]>;
  /** GETs of one object key that the bucket served since start (HEADs not included). */
  bucketGets(key: string): Promise<S3rverRequest[]>;
  close(): Promise<void>;
}

export interface LabGateway {
  readonly running: RunningGateway;
  readonly port: number;
  /** Records as onSession saw them. */
  readonly records: SessionRecord[];
  /** The gateway's log lines, parsed. */
  readonly logs: Record<string, unknown>[];
}

const word = () => randomBytes(6).toString('hex');

function entry(hostname: string, token: string) {
  return {
    hostname,
    kernel: `/${KERNEL_PATH}`,
    initrd: [`/${INITRD_PATH}`],
    // panic=-1: a kernel that cannot go on reboots at once, and -no-reboot turns that into an exit.
    cmdline: `console=ttyS0 panic=-1 quiet tftpfn.token=${token}`,
    menuTimeout: 0,
  };
}

export async function startBootLab(tools: BootTools, mac: string): Promise<BootLab> {
  const scratch = mkdtempSync(join(tmpdir(), 'tftpfn-boot-'));
  const folder = join(scratch, 'tftproot');
  const marker = word();
  const known: LabMachine = { mac, hostname: 'node-01.boot.test', token: word() };
  const defaultToken = word();
  const cleanups: (() => Promise<void> | void)[] = [() => rmSync(scratch, { recursive: true, force: true })];
  let current: RunningGateway | undefined;
  try {
    const redis = await startRedis();
    cleanups.push(() => redis.cleanup());
    const s3 = await startS3rver();
    cleanups.push(() => s3.stop());

    const kernel = readFileSync(tools.kernel);
    const initrd = buildInitrd(tools.busybox, marker);
    await s3.createBucket(BUCKET);
    await s3.putObject(BUCKET, KERNEL_PATH, kernel);
    await s3.putObject(BUCKET, INITRD_PATH, initrd);

    mkdirSync(folder);
    copyFileSync(tools.grubNetEfi, join(folder, GRUB_IMAGE));
    mkdirSync(join(folder, 'grub'));
    writeFileSync(join(folder, GRUB_HANDOVER), GRUB_HANDOVER_CFG);

    const inventory = join(scratch, 'inventory.json');
    writeFileSync(inventory, JSON.stringify({ default: entry('unknown-machine', defaultToken), machines: { [mac]: entry(known.hostname, known.token) } }, null, 2));
    const imported = await runCli(['kv', 'import', '--redis-url', redis.url, inventory], { timeoutMs: 30_000 });
    expect(imported.code, `tftpfn kv import: ${imported.stderr}`).toBe(0);

    const lab: BootLab = {
      redis,
      s3,
      marker,
      kernelBytes: kernel.length,
      initrdBytes: initrd.length,
      known,
      defaultToken,
      async gateway(overrides) {
        await current?.close(1000);
        const records: SessionRecord[] = [];
        const logs: Record<string, unknown>[] = [];
        const running = await startGateway({
          config: {
            hosts: ['127.0.0.1'],
            port: 0,
            ...s3.gatewayConfig,
            redisUrl: redis.url,
            cacheHmacKey: 'boot-lab-fleet-key-0123456789abcdef0123',
            root: folder,
            functions: {
              ipxe: { entry: join(REPO, 'functions/ipxe/index.ts'), poolSize: 1 },
              grub: { entry: join(REPO, 'functions/grub/index.ts'), poolSize: 1 },
            },
            routes: [
              { match: '**/*.ipxe', function: 'ipxe' },
              { match: '**/grub.cfg-*', function: 'grub' },
              { match: 'boot/**', bucket: BUCKET },
            ],
            defaultRoute: { folder },
            ...overrides,
          },
          logger: pino({ level: 'info' }, { write: (s: string) => void logs.push(JSON.parse(s) as Record<string, unknown>) }),
          onSession: (r) => records.push(r),
        });
        current = running;
        return { running, port: running.port, records, logs };
      },
      async streamRecords() {
        const reply = (await redis.cli('XRANGE', STREAM_KEY, '-', '+')) as RespReply[];
        return reply.map((item) => {
          const fields = (item as RespReply[])[1] as Buffer[];
          const at = fields.findIndex((f) => f.toString() === 'r');
          return JSON.parse(fields[at + 1].toString()) as SessionRecord;
        });
      },
      async bucketGets(key) {
        const log = await s3.requests();
        return log.filter((r) => r.method === 'GET' && decodeURIComponent(r.path.split('?')[0]) === `/${BUCKET}/${key}`);
      },
      async close() {
        await current?.close(1000);
        for (const c of cleanups.reverse()) await c();
      },
    };
    return lab;
  } catch (e) {
    await current?.close(1000);
    for (const c of cleanups.reverse()) await c();
    throw e;
  }
}

/** Waits (bounded) until the stream holds `n` records for the files `match` picks. */
export async function streamRecordsFor(lab: BootLab, match: (r: SessionRecord) => boolean, n: number, timeoutMs = 10_000): Promise<SessionRecord[]> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const got = (await lab.streamRecords()).filter(match);
    if (got.length >= n || Date.now() > end) return got;
    await new Promise((r) => setTimeout(r, 100));
  }
}
