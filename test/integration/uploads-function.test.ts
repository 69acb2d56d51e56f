/**
 * The config-backup example (issue 15) as the gateway runs it: bundled, in a sandboxed worker
 * process, its s3Put() answer crossing the worker protocol; the upload stored by the gateway
 * into the local bucket folder (objects/upload-local.ts: temporary file, then link into place).
 * A real client (tftp-hpa) on loopback.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { seededBytes } from '../helpers/seeded.js';
import { killAllClients, runClient } from '../interop/run-client.js';
import { RawPeer } from '../helpers/raw-peer.js';
import { Opcode } from '../../gateway/src/protocol/packet.js';

let gw: TestGateway;
let buckets: string;
let work: string;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'tftpfn-upfn-'));
  buckets = join(work, 'buckets');
  mkdirSync(join(buckets, 'backups'), { recursive: true });
  gw = await startTestGateway({
    config: {
      objectStore: 'local',
      bucketsDir: buckets,
      functions: {
        'config-backup': { entry: resolve('functions/config-backup/index.ts'), writes: true, allowOverwrite: true, poolSize: 1, maxUploadBytes: 16 * 1024 * 1024 },
        reader: { entry: resolve('functions/config-backup/index.ts'), poolSize: 1 },
      },
      routes: [{ match: 'ro/*', function: 'reader' }],
      defaultRoute: { function: 'config-backup' },
    },
  });
}, 60_000);

afterAll(async () => {
  killAllClients();
  await gw?.stop();
  rmSync(work, { recursive: true, force: true });
});

const put = (local: string, remote: string) => runClient('tftp', ['-m', 'binary', '127.0.0.1', String(gw.addresses[0]!.port), '-c', 'put', local, remote], { timeoutMs: 30_000 });

describe('config-backup through the gateway', () => {
  it('a sandboxed function answers s3Put(); the upload lands under backups/<ip>/<day>/<name> in the local bucket, identical, with no temporary file left', async () => {
    const bytes = seededBytes(77, 6 * 1024 * 1024 + 11);
    const local = join(work, 'sw1.cfg');
    writeFileSync(local, bytes);
    const run = await put(local, 'sw1.cfg');
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout + run.stderr).not.toMatch(/Error code/);
    const rec = await gw.waitForRecord((r) => r.file === 'sw1.cfg' && r.kind === 'write');
    expect(rec.outcome).toBe('ok');
    expect(rec.function).toBe('config-backup');
    const day = new Date().toISOString().slice(0, 10);
    expect(rec.objectKey).toBe(`backups/backups/127.0.0.1/${day}/sw1.cfg`);
    const dir = join(buckets, 'backups', 'backups', '127.0.0.1', day);
    expect(readdirSync(dir)).toEqual(['sw1.cfg']);
    expect(readFileSync(join(dir, 'sw1.cfg')).equals(bytes)).toBe(true);
  }, 60_000);

  it('a path that is not a plain filename gets ERROR 2 and stores nothing', async () => {
    const local = join(work, 'x.cfg');
    writeFileSync(local, 'x');
    const run = await put(local, 'sub/x.cfg');
    expect(run.stdout + run.stderr).toMatch(/Error code 2: give a plain filename/);
    expect(existsSync(join(buckets, 'backups', 'backups', '127.0.0.1', new Date().toISOString().slice(0, 10), 'x.cfg'))).toBe(false);
  }, 30_000);

  it('a gateway shutdown mid-upload leaves neither the object nor its temporary file', async () => {
    const gw2 = await startTestGateway({
      config: {
        objectStore: 'local',
        bucketsDir: buckets,
        timeoutMs: 2000,
        functions: { 'config-backup': { entry: resolve('functions/config-backup/index.ts'), writes: true, poolSize: 1 } },
        defaultRoute: { function: 'config-backup' },
      },
    });
    const local = join(work, 'dump.bin');
    writeFileSync(local, seededBytes(78, 64 * 1024 * 1024));
    const dir = join(buckets, 'backups', 'backups', '127.0.0.1', new Date().toISOString().slice(0, 10));
    const running = runClient('tftp', ['-m', 'binary', '127.0.0.1', String(gw2.addresses[0]!.port), '-c', 'put', local, 'dump.bin'], { timeoutMs: 30_000 });
    // Bounded wait until the upload's temporary file exists (the first part went to disk).
    for (let i = 0; i < 400 && !(existsSync(dir) && readdirSync(dir).some((n) => n.startsWith('dump.bin.tftpfn-upload-'))); i++) await new Promise((r) => setTimeout(r, 25));
    expect(readdirSync(dir).some((n) => n.startsWith('dump.bin.tftpfn-upload-'))).toBe(true);
    await gw2.stop();
    // The abort follows the session's end: wait (bounded) for the temporary file to go.
    for (let i = 0; i < 200 && readdirSync(dir).some((n) => n.startsWith('dump.bin')); i++) await new Promise((r) => setTimeout(r, 25));
    expect(readdirSync(dir).filter((n) => n.startsWith('dump.bin'))).toEqual([]);
    await running;
  }, 60_000);

  it('an ERROR from the client mid-upload (after a whole part) leaves neither the object nor its temporary file', async () => {
    const peer = await RawPeer.open();
    try {
      const gwPort = gw.addresses[0]!.port;
      peer.wrq(gwPort, 'aborted.cfg', { blksize: '65464' });
      const oack = await peer.expect(Opcode.Oack);
      const tid = oack.port;
      const dir = join(buckets, 'backups', 'backups', '127.0.0.1', new Date().toISOString().slice(0, 10));
      const block = new Uint8Array(65464).fill(7);
      // 9 MiB in lock-step: more than one 8 MiB part, so a temporary file exists on disk.
      for (let b = 1; b <= 145; b++) {
        peer.data(tid, b, block);
        const a = await peer.expect(Opcode.Ack);
        expect(a.packet.block).toBe(b);
      }
      // The first part goes to disk asynchronously: wait (bounded) for its temporary file.
      const temp = () => existsSync(dir) && readdirSync(dir).some((n) => n.startsWith('aborted.cfg.tftpfn-upload-'));
      for (let i = 0; i < 200 && !temp(); i++) await new Promise((r) => setTimeout(r, 25));
      expect(temp()).toBe(true);
      peer.error(tid, 0, 'user cancelled');
      const rec = await gw.waitForRecord((r) => r.file === 'aborted.cfg');
      expect(rec.outcome).toBe('client-abort');
      for (let i = 0; i < 200 && readdirSync(dir).some((n) => n.startsWith('aborted.cfg')); i++) await new Promise((r) => setTimeout(r, 25));
      expect(readdirSync(dir).filter((n) => n.startsWith('aborted.cfg'))).toEqual([]);
    } finally {
      await peer.close();
    }
  }, 60_000);

  it('a function without writes: true never sees a WRQ: ERROR 2 "writes are disabled"', async () => {
    const local = join(work, 'y.cfg');
    writeFileSync(local, 'y');
    const run = await put(local, 'ro/y.cfg');
    expect(run.stdout + run.stderr).toMatch(/Error code 2: writes are disabled/);
  }, 30_000);
});
