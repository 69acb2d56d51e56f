/**
 * Uploads through a function into S3 (issue 15), with real clients (curl -T, tftp-hpa put,
 * atftp --put, busybox tftp -p) against a real gateway and a real S3-compatible server
 * (s3rver). Every client has a hard timeout; every wait is bounded.
 *
 * s3rver 3.7.1 does not implement AbortMultipartUpload (DELETE ?uploadId answers 405) nor
 * ListMultipartUploads, so "no unfinished multipart upload is left" is checked here as: no
 * object under the key, and the gateway sent AbortMultipartUpload for the upload it had
 * started (the request log); the abort itself is unit-tested (test/unit/objects/upload-writer).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { denied, notFound, s3Put, type Handler } from '../../sdk/index.js';
import { startS3rver, type TestS3rver } from '../helpers/s3rver.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { seededBytes } from '../helpers/seeded.js';
import { killAllClients, runClient } from './run-client.js';

const SEED = 1515;
const MiB = 1024 * 1024;
let s3: TestS3rver;
let gw: TestGateway;
let client: S3Client;
let work: string;

const upload: Handler = (request) => {
  if (request.kind !== 'write') return notFound();
  if (request.path.startsWith('refused/')) return denied('not here');
  return s3Put({ bucket: 'backups', key: `up/${request.path}`, contentType: 'application/octet-stream' });
};

async function objectBytes(key: string): Promise<Buffer | undefined> {
  try {
    const r = await client.send(new GetObjectCommand({ Bucket: 'backups', Key: key }));
    return Buffer.from(await r.Body!.transformToByteArray());
  } catch {
    return undefined;
  }
}

async function keys(prefix: string): Promise<string[]> {
  const r = await client.send(new ListObjectsV2Command({ Bucket: 'backups', Prefix: prefix }));
  return (r.Contents ?? []).map((c) => c.Key!).sort();
}

function localFile(name: string, bytes: Uint8Array): string {
  const p = join(work, name);
  writeFileSync(p, bytes);
  return p;
}

const port = () => String(gw.addresses[0]!.port);

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'tftpfn-uploads-'));
  s3 = await startS3rver();
  await s3.createBucket('backups');
  client = new S3Client({ ...s3.clientOptions, maxAttempts: 1 });
  gw = await startTestGateway({
    functions: { up: upload, small: upload, single: upload },
    config: {
      ...s3.gatewayConfig,
      timeoutMs: 300,
      retries: 3,
      uploadPartBytes: 5 * MiB,
      functions: {
        up: { writes: true, maxUploadBytes: 64 * MiB, maxUploadsPerClient: 32 },
        small: { writes: true, maxUploadBytes: 1000 },
        single: { writes: true, maxUploadsPerClient: 1 },
      },
      routes: [
        { match: 'small/*', function: 'small' },
        { match: 'single/*', function: 'single' },
      ],
      defaultRoute: { function: 'up' },
    },
  });
}, 60_000);

afterAll(async () => {
  killAllClients();
  await gw?.stop();
  client?.destroy();
  await s3?.stop();
  rmSync(work, { recursive: true, force: true });
});

describe('uploads into S3 through a function', () => {
  const clients: { name: string; argv: (local: string, remote: string) => [string, string[]] }[] = [
    { name: 'curl -T', argv: (l, r) => ['curl', ['-sS', '--tftp-blksize', '1468', '-T', l, `tftp://127.0.0.1:${port()}/${r}`]] },
    { name: 'tftp-hpa put', argv: (l, r) => ['tftp', ['-m', 'binary', '127.0.0.1', port(), '-c', 'put', l, r]] },
    { name: 'atftp --put (windowsize 8)', argv: (l, r) => ['atftp', ['--option', 'blksize 1468', '--option', 'windowsize 8', '-p', '-l', l, '-r', r, '127.0.0.1', port()]] },
    { name: 'busybox tftp -p', argv: (l, r) => ['busybox', ['tftp', '-b', '1468', '-p', '-l', l, '-r', r, '127.0.0.1', port()]] },
  ];
  for (const [i, c] of clients.entries()) {
    it(`${c.name}: the object in the bucket is byte-identical (two parts and a short last one), and the record names it`, async () => {
      const remote = `client-${i}.bin`;
      const bytes = seededBytes(SEED + i, 11 * MiB + 321);
      const [cmd, args] = c.argv(localFile(remote, bytes), remote);
      const run = await runClient(cmd, args, { timeoutMs: 90_000 });
      expect(run.timedOut, run.stderr).toBe(false);
      expect(run.code, run.stderr).toBe(0);
      const rec = await gw.waitForRecord((r) => r.file.endsWith(remote) && r.kind === 'write');
      expect(rec.outcome).toBe('ok');
      expect(rec.bytes).toBe(bytes.length);
      expect(rec.objectKey).toBe(`backups/up/${remote}`);
      expect(rec.source).toBe('s3');
      const stored = await objectBytes(`up/${remote}`);
      expect(stored?.length).toBe(bytes.length);
      expect(stored!.equals(Buffer.from(bytes)), `seed ${SEED + i}: content differs`).toBe(true);
    }, 120_000);
  }

  it('atftp: windowsize is honoured for a WRQ (RFC 7440): the record says 8', async () => {
    const rec = await gw.waitForRecord((r) => r.file.endsWith('client-2.bin') && r.kind === 'write');
    expect(rec.windowSize).toBe(8);
  });

  it('tsize larger than the function allows: curl -T gets ERROR 3 before any DATA, and nothing is stored', async () => {
    const bytes = seededBytes(SEED + 10, 2000);
    const run = await runClient('curl', ['-sS', '-T', localFile('big.bin', bytes), `tftp://127.0.0.1:${port()}/small/big.bin`], { timeoutMs: 20_000 });
    expect(run.code).not.toBe(0);
    const rec = await gw.waitForRecord((r) => r.file.endsWith('small/big.bin'));
    expect(rec.errorCode).toBe(3);
    expect(rec.bytes).toBe(0);
    expect(await keys('up/small/')).toEqual([]);
  });

  it('more bytes than allowed without tsize: tftp-hpa put is stopped with ERROR 3, nothing stored', async () => {
    const bytes = seededBytes(SEED + 11, 3000);
    const run = await runClient('tftp', ['-m', 'binary', '127.0.0.1', port(), '-c', 'put', localFile('over.bin', bytes), 'small/over.bin'], { timeoutMs: 20_000 });
    expect(run.stdout + run.stderr).toMatch(/Error code 3/);
    const rec = await gw.waitForRecord((r) => r.file.endsWith('small/over.bin'));
    expect(rec.errorCode).toBe(3);
    expect(rec.outcome).toBe('disk-full');
    expect(await keys('up/small/')).toEqual([]);
  });

  it('maxUploadsPerClient 1: a second upload from the same client while the first runs gets ERROR 0 "too many sessions from this client"; the first completes', async () => {
    await s3.clearRequests();
    const bytes = seededBytes(SEED + 14, 8 * MiB);
    const first = runClient('tftp', ['-m', 'binary', '127.0.0.1', port(), '-c', 'put', localFile('one.bin', bytes), 'single/one.bin'], { timeoutMs: 60_000 });
    // Bounded wait until the first upload is open (its existence check reached S3).
    for (let i = 0; i < 200; i++) {
      if ((await s3.requests()).some((r) => r.method === 'HEAD' && r.path.includes('single/one.bin'))) break;
      await new Promise((r) => setTimeout(r, 25));
    }
    const second = await runClient('tftp', ['-m', 'binary', '127.0.0.1', port(), '-c', 'put', localFile('two.bin', seededBytes(SEED + 15, 100)), 'single/two.bin'], { timeoutMs: 20_000 });
    expect(second.stdout + second.stderr).toMatch(/Error code 0: too many sessions from this client/);
    const run = await first;
    expect(run.stdout + run.stderr).not.toMatch(/Error code/);
    expect((await objectBytes('up/single/one.bin'))?.equals(bytes)).toBe(true);
    expect(await objectBytes('up/single/two.bin')).toBeUndefined();
  }, 90_000);

  it('an existing key is refused with ERROR 6 and keeps its bytes', async () => {
    await s3.putObject('backups', 'up/taken.bin', 'theirs');
    const run = await runClient('tftp', ['-m', 'binary', '127.0.0.1', port(), '-c', 'put', localFile('taken.bin', seededBytes(SEED + 12, 100)), 'taken.bin'], { timeoutMs: 20_000 });
    expect(run.stdout + run.stderr).toMatch(/Error code 6/);
    expect((await objectBytes('up/taken.bin'))?.toString()).toBe('theirs');
  });

  it('a refusal from the function is ERROR 2 with its text', async () => {
    const run = await runClient('tftp', ['-m', 'binary', '127.0.0.1', port(), '-c', 'put', localFile('r.bin', seededBytes(SEED + 13, 100)), 'refused/r.bin'], { timeoutMs: 20_000 });
    expect(run.stdout + run.stderr).toMatch(/Error code 2: not here/);
  });

  it('netascii: tftp-hpa puts a text file in ascii mode; the bucket holds it with its own line ends', async () => {
    const text = 'hostname sw1\ninterface ge-0/0/1\n description uplink\r\nend\n';
    const run = await runClient('tftp', ['-m', 'netascii', '127.0.0.1', port(), '-c', 'put', localFile('cfg.txt', Buffer.from(text)), 'cfg.txt'], { timeoutMs: 20_000 });
    expect(run.code, run.stderr).toBe(0);
    const rec = await gw.waitForRecord((r) => r.file.endsWith('cfg.txt') && r.kind === 'write');
    expect(rec.outcome).toBe('ok');
    expect((await objectBytes('up/cfg.txt'))?.toString()).toBe(text);
  });

  it('20 concurrent uploads (curl -T) all land, byte-identical', async () => {
    const files = Array.from({ length: 20 }, (_, i) => ({ remote: `many/f${i}.bin`, bytes: seededBytes(SEED + 100 + i, 512 * 1024 + i * 1000) }));
    const runs = await Promise.all(files.map((f) => runClient('curl', ['-sS', '--tftp-blksize', '1468', '-T', localFile(f.remote.replace('/', '-'), f.bytes), `tftp://127.0.0.1:${port()}/${f.remote}`], { timeoutMs: 90_000 })));
    for (const r of runs) expect(r.code, r.stderr).toBe(0);
    for (const f of files) {
      const stored = await objectBytes(`up/${f.remote}`);
      expect(stored?.equals(Buffer.from(f.bytes)), f.remote).toBe(true);
    }
  }, 120_000);

  it('a client killed mid-upload leaves no object, and the gateway aborted the multipart upload it had started', async () => {
    await s3.clearRequests();
    const bytes = seededBytes(SEED + 20, 40 * MiB);
    const child = spawn('tftp', ['-m', 'binary', '127.0.0.1', port(), '-c', 'put', localFile('killed.bin', bytes), 'killed.bin'], { stdio: 'ignore' });
    // Wait (bounded) until the first part went up, then kill the client.
    for (let i = 0; i < 200; i++) {
      if ((await s3.requests()).some((r) => r.method === 'PUT' && r.path.includes('killed.bin') && r.path.includes('partNumber='))) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    child.kill('SIGKILL');
    const rec = await gw.waitForRecord((r) => r.file.endsWith('killed.bin'), 20_000);
    expect(rec.outcome).toBe('timeout');
    expect(await keys('up/killed')).toEqual([]);
    // Bounded wait for the abort to reach the server (it follows the session's end).
    let aborted = false;
    for (let i = 0; i < 100 && !aborted; i++) {
      aborted = (await s3.requests()).some((r) => r.method === 'DELETE' && r.path.includes('killed.bin') && r.path.includes('uploadId='));
      if (!aborted) await new Promise((r) => setTimeout(r, 50));
    }
    expect(aborted).toBe(true);
  }, 60_000);

  it('S3 paused 2 s mid-upload (SIGSTOP): the upload waits for the store (ACKs held past 1 MiB unwritten) and completes identical', async () => {
    await s3.clearRequests();
    const bytes = seededBytes(SEED + 40, 30 * MiB);
    const running = runClient('atftp', ['--option', 'blksize 1468', '-p', '-l', localFile('paused.bin', bytes), '-r', 'paused.bin', '127.0.0.1', port()], { timeoutMs: 90_000 });
    for (let i = 0; i < 200; i++) {
      if ((await s3.requests()).some((r) => r.method === 'PUT' && r.path.includes('paused.bin') && r.path.includes('partNumber='))) break;
      await new Promise((r) => setTimeout(r, 25));
    }
    s3.pause();
    await new Promise((r) => setTimeout(r, 2000));
    s3.resume();
    const run = await running;
    expect(run.code, run.stderr).toBe(0);
    const rec = await gw.waitForRecord((r) => r.file.endsWith('paused.bin'), 30_000);
    expect(rec.outcome).toBe('ok');
    expect((await objectBytes('up/paused.bin'))?.equals(bytes)).toBe(true);
  }, 120_000);

  it('a gateway shut down mid-upload has sent AbortMultipartUpload by the time close() resolves, and leaves no object', async () => {
    const gw2 = await startTestGateway({
      functions: { up: upload },
      config: { ...s3.gatewayConfig, uploadPartBytes: 5 * MiB, functions: { up: { writes: true } }, defaultRoute: { function: 'up' } },
    });
    await s3.clearRequests();
    const running = runClient('tftp', ['-m', 'binary', '127.0.0.1', String(gw2.addresses[0]!.port), '-c', 'put', localFile('shutdown.bin', seededBytes(SEED + 50, 40 * MiB)), 'shutdown.bin'], { timeoutMs: 30_000 });
    for (let i = 0; i < 200; i++) {
      if ((await s3.requests()).some((r) => r.method === 'PUT' && r.path.includes('shutdown.bin') && r.path.includes('partNumber='))) break;
      await new Promise((r) => setTimeout(r, 25));
    }
    await gw2.stop();
    const requests = await s3.requests();
    expect(requests.some((r) => r.method === 'DELETE' && r.path.includes('shutdown.bin') && r.path.includes('uploadId='))).toBe(true);
    expect(await keys('up/shutdown')).toEqual([]);
    await running;
  }, 60_000);

  it('S3 stopped mid-upload: the client gets an ERROR, and once S3 is back there is no object', async () => {
    await s3.clearRequests();
    const bytes = seededBytes(SEED + 30, 40 * MiB);
    const running = runClient('atftp', ['--option', 'blksize 1468', '-p', '-l', localFile('outage.bin', bytes), '-r', 'outage.bin', '127.0.0.1', port()], { timeoutMs: 60_000 });
    for (let i = 0; i < 200; i++) {
      if ((await s3.requests()).some((r) => r.method === 'PUT' && r.path.includes('outage.bin') && r.path.includes('partNumber='))) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    await s3.halt();
    const run = await running;
    expect(run.timedOut).toBe(false);
    expect(run.code).not.toBe(0);
    const rec = await gw.waitForRecord((r) => r.file.endsWith('outage.bin'), 30_000);
    expect(rec.outcome).not.toBe('ok');
    expect(rec.errorCode).toBe(0);
    await s3.restart();
    expect(await keys('up/outage')).toEqual([]);
  }, 120_000);
});
