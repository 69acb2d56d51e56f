/**
 * Uploads read by the function itself (request.body, accepted(): issue 15) with real clients
 * on loopback, in both isolation modes: the body crosses the worker protocol with credit
 * (runtime/body-channel.ts), the function hashes it into env.kv (a real redis-server), and
 * the test reads the hash back through the same function.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { startRedis, type TestRedis } from '../helpers/redis-server.js';
import { seededBytes } from '../helpers/seeded.js';
import { RawPeer } from '../helpers/raw-peer.js';
import { killAllClients, runClient } from '../interop/run-client.js';
import { Opcode } from '../../gateway/src/protocol/packet.js';

const ENTRY = resolve('test/fixtures/functions/hash-upload.ts');
const SEED = 1515;
let redis: TestRedis;
let work: string;

beforeAll(async () => {
  redis = await startRedis();
  work = mkdtempSync(join(tmpdir(), 'tftpfn-upacc-'));
}, 30_000);

afterAll(async () => {
  killAllClients();
  await redis?.cleanup();
  if (work) rmSync(work, { recursive: true, force: true });
});

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

describe.each(['process', 'thread'] as const)('accepted() uploads, isolation %s', (isolation) => {
  let gw: TestGateway;
  const port = () => gw.addresses[0]!.port;
  const fetchText = async (path: string) => {
    const run = await runClient('curl', ['-sS', `tftp://127.0.0.1:${port()}/${path}`], { timeoutMs: 15_000 });
    return run.code === 0 ? run.stdout : undefined;
  };
  /** What the function recorded under `path` (read back through it), polled: its kv write follows the final ACK's cause. */
  const recorded = async (path: string) => {
    for (let i = 0; i < 100; i++) {
      const v = await fetchText(path);
      if (v !== undefined) return v;
      await new Promise((r) => setTimeout(r, 50));
    }
    return undefined;
  };

  beforeAll(async () => {
    gw = await startTestGateway({
      config: {
        redisUrl: redis.url,
        progressIntervalMs: 2000,
        functions: {
          hash: { entry: ENTRY, writes: true, poolSize: 2, isolation, timeoutMs: 3000, maxUploadBytes: 4 * 1024 * 1024 },
        },
        defaultRoute: { function: 'hash' },
      },
    });
  }, 60_000);
  afterAll(async () => {
    await gw?.stop();
  });

  const file = (name: string, size: number, seed: number) => {
    const bytes = seededBytes(seed, size);
    const local = join(work, `${isolation}-${name}`);
    writeFileSync(local, bytes);
    return { bytes, local };
  };

  const clients: Array<{ name: string; argv: (p: number, l: string, r: string) => [string, string[]] }> = [
    { name: 'curl -T', argv: (p, l, r) => ['curl', ['-sS', '--tftp-blksize', '1468', '-T', l, `tftp://127.0.0.1:${p}/${r}`]] },
    { name: 'tftp-hpa put', argv: (p, l, r) => ['tftp', ['-m', 'binary', '127.0.0.1', String(p), '-c', 'put', l, r]] },
    { name: 'atftp --put, windowsize 16', argv: (p, l, r) => ['atftp', ['--option', 'blksize 1468', '--option', 'windowsize 16', '--put', '-r', r, '-l', l, '127.0.0.1', String(p)]] },
    { name: 'busybox tftp -p', argv: (p, l, r) => ['busybox', ['tftp', '-b', '1468', '-p', '-r', r, '-l', l, '127.0.0.1', String(p)]] },
  ];

  clients.forEach((client, ci) => {
    it(`${client.name}: the function hashes the whole body and answers accepted(); the hash equals the file's`, async () => {
      const remote = `c${ci}.bin`;
      const { bytes, local } = file(remote, 3 * 1024 * 1024 + 333, SEED + ci);
      const [cmd, args] = client.argv(port(), local, remote);
      const run = await runClient(cmd, args, { timeoutMs: 60_000 });
      expect(run.code, `${cmd} ${args.join(' ')}: ${run.stderr}`).toBe(0);
      expect(run.stdout + run.stderr).not.toMatch(/error/i);
      const rec = await gw.waitForRecord((r) => r.file === remote && r.kind === 'write');
      expect(rec.outcome).toBe('ok');
      expect(rec.bytes).toBe(bytes.byteLength);
      expect(rec.source).toBe('function');
      // The final ACK went out only after accepted(), which followed the kv write.
      expect(await fetchText(`hash/${remote}`)).toBe(sha256(bytes));
    }, 90_000);
  });

  it('a function that throws midway: the client gets ERROR 0 and the record says function-error', async () => {
    const { local } = file('throw-x.bin', 1024 * 1024, SEED + 10);
    const run = await runClient('curl', ['-sS', '--tftp-blksize', '1468', '-T', local, `tftp://127.0.0.1:${port()}/throw-x.bin`], { timeoutMs: 30_000 });
    expect(run.code).not.toBe(0);
    const rec = await gw.waitForRecord((r) => r.file === 'throw-x.bin');
    expect(rec.outcome).toBe('function-error');
    expect(rec.errorCode).toBe(0);
    expect(rec.errorMessage).toBe('internal error');
  }, 60_000);

  it('a function that reads, then answers denied(): the client gets that ERROR 2', async () => {
    const { local } = file('deny-x.bin', 512 * 1024, SEED + 11);
    const run = await runClient('tftp', ['-m', 'binary', '127.0.0.1', String(port()), '-c', 'put', local, 'deny-x.bin'], { timeoutMs: 30_000 });
    expect(run.stdout + run.stderr).toMatch(/Error code 2: no thanks/);
    const rec = await gw.waitForRecord((r) => r.file === 'deny-x.bin');
    expect(rec.errorCode).toBe(2);
  }, 60_000);

  it('maxUploadBytes passed mid-way (no tsize): ERROR 3 to the client, and the function sees reason too-large', async () => {
    const { local } = file('big.bin', 5 * 1024 * 1024, SEED + 12);
    const run = await runClient('curl', ['-sS', '--tftp-no-options', '-T', local, `tftp://127.0.0.1:${port()}/big.bin`], { timeoutMs: 60_000 });
    expect(run.code).not.toBe(0);
    const rec = await gw.waitForRecord((r) => r.file === 'big.bin', 60_000);
    expect(rec.errorCode).toBe(3);
    expect(rec.errorMessage).toBe('upload too large');
    expect(await recorded('aborted/big.bin')).toBe('TFTP_UPLOAD_ABORTED:too-large');
  }, 90_000);

  it('tsize above maxUploadBytes: ERROR 3 up front, the function never runs', async () => {
    const peer = await RawPeer.open();
    try {
      peer.wrq(port(), 'huge.bin', { tsize: String(5 * 1024 * 1024) });
      const e = await peer.expect(Opcode.Error);
      expect(e.packet.code).toBe(3);
    } finally {
      await peer.close();
    }
  }, 30_000);

  it('a client that sends ERROR mid-upload: the function sees reason client-abort; the record says client-abort', async () => {
    const peer = await RawPeer.open();
    try {
      peer.wrq(port(), 'gone.bin', { blksize: '1468' });
      const oack = await peer.expect(Opcode.Oack);
      const tid = oack.port;
      for (let b = 1; b <= 20; b++) {
        peer.data(tid, b, new Uint8Array(1468).fill(b));
        expect((await peer.expect(Opcode.Ack)).packet.block).toBe(b);
      }
      peer.error(tid, 0, 'user cancelled');
      const rec = await gw.waitForRecord((r) => r.file === 'gone.bin');
      expect(rec.outcome).toBe('client-abort');
      expect(await recorded('aborted/gone.bin')).toBe('TFTP_UPLOAD_ABORTED:client-abort');
    } finally {
      await peer.close();
    }
  }, 60_000);

  it('a client killed mid-upload: the session times out, the function sees reason timeout', async () => {
    const peer = await RawPeer.open();
    try {
      peer.wrq(port(), 'killed.bin', { blksize: '1468', timeout: '1' });
      const oack = await peer.expect(Opcode.Oack);
      const tid = oack.port;
      for (let b = 1; b <= 10; b++) {
        peer.data(tid, b, new Uint8Array(1468).fill(b));
        expect((await peer.expect(Opcode.Ack)).packet.block).toBe(b);
      }
      // The client vanishes: no more DATA, no ERROR.
      const rec = await gw.waitForRecord((r) => r.file === 'killed.bin', 60_000);
      expect(['timeout', 'too-slow']).toContain(rec.outcome);
      expect(await recorded('aborted/killed.bin')).toBe(`TFTP_UPLOAD_ABORTED:${rec.outcome}`);
    } finally {
      await peer.close();
    }
  }, 90_000);

  it('a function that stops reading: the progress rule ends the upload with ERROR 0', async () => {
    const { local } = file('stall-x.bin', 4 * 1024 * 1024 - 1, SEED + 13);
    const started = performance.now();
    const run = await runClient('curl', ['-sS', '--tftp-blksize', '1468', '-T', local, `tftp://127.0.0.1:${port()}/stall-x.bin`], { timeoutMs: 60_000 });
    expect(run.code).not.toBe(0);
    const rec = await gw.waitForRecord((r) => r.file === 'stall-x.bin', 60_000);
    expect(rec.outcome).toBe('too-slow');
    expect(performance.now() - started).toBeLessThan(45_000);
  }, 90_000);

  it('a function that never answers after the body: the invocation limit ends it with ERROR 0', async () => {
    const { local } = file('hang-x.bin', 100 * 1024, SEED + 14);
    const run = await runClient('curl', ['-sS', '--tftp-blksize', '1468', '-T', local, `tftp://127.0.0.1:${port()}/hang-x.bin`], { timeoutMs: 60_000 });
    expect(run.code).not.toBe(0);
    const rec = await gw.waitForRecord((r) => r.file === 'hang-x.bin', 30_000);
    expect(rec.outcome).toBe('function-error');
    expect(rec.errorCode).toBe(0);
  }, 90_000);
});

describe('accepted() uploads, in-process handler (createGateway with functions)', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    const { handle } = (await import('../fixtures/functions/hash-upload.js')) as typeof import('../fixtures/functions/hash-upload.js');
    gw = await startTestGateway({
      functions: { hash: handle },
      config: { redisUrl: redis.url, functions: { hash: { writes: true, timeoutMs: 3000 } }, defaultRoute: { function: 'hash' } },
    });
  }, 60_000);
  afterAll(async () => {
    await gw?.stop();
  });

  it('curl -T: the same body channel on the gateway thread; the hash equals the file\'s', async () => {
    const bytes = seededBytes(SEED + 20, 2 * 1024 * 1024 + 7);
    const local = join(work, 'inproc.bin');
    writeFileSync(local, bytes);
    const p = gw.addresses[0]!.port;
    const run = await runClient('curl', ['-sS', '--tftp-blksize', '1468', '-T', local, `tftp://127.0.0.1:${p}/inproc.bin`], { timeoutMs: 60_000 });
    expect(run.code, run.stderr).toBe(0);
    const rec = await gw.waitForRecord((r) => r.file === 'inproc.bin');
    expect(rec.outcome).toBe('ok');
    const got = await runClient('curl', ['-sS', `tftp://127.0.0.1:${p}/hash/inproc.bin`], { timeoutMs: 15_000 });
    expect(got.stdout).toBe(sha256(bytes));
  }, 90_000);
});

describe('accepted() uploads: maxUploadsPerClient', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startTestGateway({
      config: {
        redisUrl: redis.url,
        functions: { hash: { entry: ENTRY, writes: true, poolSize: 1, isolation: 'thread', maxUploadsPerClient: 1 } },
        defaultRoute: { function: 'hash' },
      },
    });
  }, 60_000);
  afterAll(async () => {
    await gw?.stop();
  });

  it('a second upload from the same client while one is being read gets ERROR 0 "too many sessions from this client" (as a download past maxSessionsPerClient) and is recorded busy', async () => {
    const first = await RawPeer.open();
    const second = await RawPeer.open();
    try {
      const p = gw.addresses[0]!.port;
      // The first: its function reads one chunk and holds the upload open.
      first.wrq(p, 'stall-one.bin', { blksize: '1468' });
      const oack = await first.expect(Opcode.Oack);
      first.data(oack.port, 1, new Uint8Array(1468));
      await first.expect(Opcode.Ack);
      second.wrq(p, 'two.bin', { blksize: '1468' });
      const e = await second.expect(Opcode.Error, 10_000);
      expect(e.packet.code).toBe(0);
      expect(e.packet.message).toBe('too many sessions from this client');
      expect(await gw.waitForRecord((r) => r.file === 'two.bin')).toMatchObject({ outcome: 'busy', errorCode: 0, errorMessage: 'too many sessions from this client', bytes: 0 });
      first.error(oack.port, 0, 'done');
      expect((await gw.waitForRecord((r) => r.file === 'stall-one.bin')).outcome).toBe('client-abort');
    } finally {
      await first.close();
      await second.close();
    }
  }, 60_000);
});
