/**
 * Upload metrics on a real gateway's /metrics (issue 15, docs/METRICS.md "Uploads"): curl -T
 * uploads through a function into s3rver and into the local bucket folder (a successful one, a
 * declared tsize above the function's limit, a client killed mid-upload), then /metrics scraped
 * over HTTP, parsed strictly, and the counters compared with what happened, as exact deltas.
 *
 * Both gateways run in this test's process, and upload counters are per process (like the send
 * path): each /metrics shows both stores, told apart by the `store` label, which is what the
 * deltas are taken on. s3rver 3.7.1 answers AbortMultipartUpload with 405, so an abort there
 * fails and is counted in tftpfn_upload_abort_failures_total (the sweep would retry it).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accepted, denied, discard, notFound, s3Put, type Handler } from '../../sdk/index.js';
import { startS3rver, type TestS3rver } from '../helpers/s3rver.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { seededBytes } from '../helpers/seeded.js';
import { parsePromText, sumOf, type MetricFamily } from '../helpers/prom-text.js';
import { killAllClients, runClient } from '../interop/run-client.js';
import { RawPeer } from '../helpers/raw-peer.js';
import { Opcode } from '../../gateway/src/protocol/packet.js';

const SEED = 1516;
const MiB = 1024 * 1024;
let s3: TestS3rver;
let s3gw: TestGateway;
let folderGw: TestGateway;
let fnGw: TestGateway;
let work: string;
let buckets: string;

const upload: Handler = (request) => (request.kind === 'write' ? s3Put({ bucket: 'backups', key: `m/${request.path}` }) : notFound());

/**
 * Reads uploads itself (request.body, accepted(): store="function"). By path: `skip-*` answers
 * accepted() without reading, `drop-*` answers discard() (store="discard"), `deny-*` reads
 * everything then answers denied(), `stall-*` reads one chunk and then neither reads nor
 * answers; anything else is read whole and accepted.
 */
const reader: Handler = async (request) => {
  if (request.kind !== 'write' || !request.body) return notFound();
  if (request.path.startsWith('skip-')) return accepted();
  if (request.path.startsWith('drop-')) return discard();
  if (request.path.startsWith('stall-')) {
    await request.body[Symbol.asyncIterator]().next();
    return new Promise<never>(() => {});
  }
  for await (const chunk of request.body) void chunk;
  return request.path.startsWith('deny-') ? denied('no thanks') : accepted();
};

// A short progress interval: a killed client's session ends within seconds. curl negotiates
// timeout=6 (RFC 2349), so its session would retransmit for 6 s a time; the progress rule
// (minProgressBytes per progressIntervalMs) ends it first, with outcome too-slow.
const gatewayConfig = {
  metricsPort: 0,
  progressIntervalMs: 2000,
  uploadPartBytes: 5 * MiB,
  // The sweep every 300 ms, for uploads left more than a minute ago (the least allowed).
  uploadSweepIntervalMs: 300,
  uploadSweepAgeMs: 60_000,
  functions: { up: { writes: true, maxUploadBytes: 64 * MiB }, small: { writes: true, maxUploadBytes: 1000 }, single: { writes: true, maxUploadsPerClient: 1 } },
  routes: [{ match: 'small/*', function: 'small' }, { match: 'single/*', function: 'single' }],
  defaultRoute: { function: 'up' },
};

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'tftpfn-upmetrics-'));
  buckets = join(work, 'buckets');
  mkdirSync(join(buckets, 'backups'), { recursive: true });
  s3 = await startS3rver();
  await s3.createBucket('backups');
  const functions = { up: upload, small: upload, single: upload };
  s3gw = await startTestGateway({ functions, config: { ...s3.gatewayConfig, ...gatewayConfig } });
  folderGw = await startTestGateway({ functions, config: { objectStore: 'local', bucketsDir: buckets, ...gatewayConfig } });
  fnGw = await startTestGateway({
    functions: { rd: reader },
    config: { metricsPort: 0, progressIntervalMs: 2000, functions: { rd: { writes: true, maxUploadBytes: 64 * MiB, maxUploadsPerClient: 1 } }, defaultRoute: { function: 'rd' } },
  });
}, 60_000);

afterAll(async () => {
  killAllClients();
  await s3gw?.stop();
  await folderGw?.stop();
  await fnGw?.stop();
  await s3?.stop();
  rmSync(work, { recursive: true, force: true });
});

async function scrape(gw: TestGateway): Promise<Map<string, MetricFamily>> {
  const res = await fetch(`http://127.0.0.1:${gw.metricsPort}/metrics`, { signal: AbortSignal.timeout(5_000) });
  expect(res.status).toBe(200);
  return parsePromText(await res.text());
}

/** The figures this test follows, for one store. */
function figures(p: Map<string, MetricFamily>, store: string) {
  return {
    started: sumOf(p, 'tftpfn_uploads_started_total', { store }),
    committed: sumOf(p, 'tftpfn_uploads_total', { store, outcome: 'committed' }),
    aborted: sumOf(p, 'tftpfn_uploads_total', { store, outcome: 'aborted' }),
    bytes: sumOf(p, 'tftpfn_upload_bytes_total', { store }),
    refusedPerClient: sumOf(p, 'tftpfn_upload_refused_per_client_total', { store }),
    abortFailures: sumOf(p, 'tftpfn_upload_abort_failures_total', { store }),
    swept: sumOf(p, 'tftpfn_upload_swept_total', { store }),
    active: sumOf(p, 'tftpfn_uploads_active', { store }),
    writesOk: sumOf(p, 'tftpfn_sessions_total', { kind: 'write', outcome: 'ok', source: store }),
    writesTooLarge: sumOf(p, 'tftpfn_sessions_total', { kind: 'write', outcome: 'disk-full', function: 'small' }),
    writesTooSlow: sumOf(p, 'tftpfn_sessions_total', { kind: 'write', outcome: 'too-slow', source: store }),
    // Refused per client before a store was opened: no source, outcome busy (as a download
    // refused by maxSessionsPerClient).
    writesRefusedSingle: sumOf(p, 'tftpfn_sessions_total', { kind: 'write', outcome: 'busy', function: 'single', source: '' }),
    // Uploads read by the function (store="function", source="function"), refused per client (busy).
    writesFnBusy: sumOf(p, 'tftpfn_sessions_total', { kind: 'write', outcome: 'busy', function: 'rd' }),
    bytesReceived: sumOf(p, 'tftpfn_bytes_received_total'),
    writeDurations: sumOf(p, 'tftpfn_session_duration_seconds_count', { kind: 'write' }),
  };
}
type Figures = ReturnType<typeof figures>;

function delta(after: Figures, before: Figures): Figures {
  const d = { ...after };
  for (const k of Object.keys(d) as (keyof Figures)[]) d[k] = after[k] - before[k];
  return d;
}

const NONE: Figures = { started: 0, committed: 0, aborted: 0, bytes: 0, refusedPerClient: 0, abortFailures: 0, swept: 0, active: 0, writesOk: 0, writesTooLarge: 0, writesTooSlow: 0, writesRefusedSingle: 0, writesFnBusy: 0, bytesReceived: 0, writeDurations: 0 };

function localFile(name: string, bytes: Uint8Array): string {
  const p = join(work, name);
  writeFileSync(p, bytes);
  return p;
}

const curlPut = (gw: TestGateway, local: string, remote: string) =>
  runClient('curl', ['-sS', '--tftp-blksize', '1468', '-T', local, `tftp://127.0.0.1:${gw.addresses[0]!.port}/${remote}`], { timeoutMs: 60_000 });

async function until(what: string, check: () => boolean | Promise<boolean>, tries = 400, everyMs = 25): Promise<void> {
  for (let i = 0; i < tries; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`timed out waiting until ${what}`);
}

for (const store of ['s3', 'folder'] as const) {
  const gw = () => (store === 's3' ? s3gw : folderGw);
  describe(`upload metrics, store ${store}`, () => {
    it(`curl -T of a 6 MiB + 7 file: one upload started and committed with its bytes, one ok write session (kind="write", source="${store}"), nothing left active`, async () => {
      const bytes = seededBytes(SEED, 6 * MiB + 7);
      const before = figures(await scrape(gw()), store);
      const run = await curlPut(gw(), localFile(`ok-${store}.bin`, bytes), `ok-${store}.bin`);
      expect(run.code, run.stderr).toBe(0);
      const rec = await gw().waitForRecord((r) => r.file === `ok-${store}.bin`);
      expect(rec.outcome).toBe('ok');
      const d = delta(figures(await scrape(gw()), store), before);
      expect(d).toEqual({ ...NONE, started: 1, committed: 1, bytes: bytes.length, writesOk: 1, bytesReceived: bytes.length, writeDurations: 1 });
    }, 90_000);

    it('curl -T with a declared tsize above the function\'s maxUploadBytes: ERROR 3 before the store is touched; only the refused write session counts', async () => {
      const before = figures(await scrape(gw()), store);
      const run = await curlPut(gw(), localFile(`big-${store}.bin`, seededBytes(SEED + 1, 2000)), `small/big-${store}.bin`);
      expect(run.code).not.toBe(0);
      const rec = await gw().waitForRecord((r) => r.file === `small/big-${store}.bin`);
      expect(rec.errorCode).toBe(3);
      const d = delta(figures(await scrape(gw()), store), before);
      expect(d).toEqual({ ...NONE, writesTooLarge: 1, writeDurations: 1 });
    }, 30_000);

    it('a curl -T killed mid-upload: the upload shows as active while it runs, a second from the same client is refused per client; then one aborted, nothing committed, the write session ended too-slow', async () => {
      const before = figures(await scrape(gw()), store);
      const remote = `killed-${store}.bin`;
      const local = localFile(remote, seededBytes(SEED + 2, 40 * MiB));
      const child = spawn('curl', ['-sS', '-T', local, `tftp://127.0.0.1:${gw().addresses[0]!.port}/single/${remote}`], { stdio: 'ignore' });
      try {
        // Past the first 5 MiB part: a multipart upload exists in S3, a temporary file in the folder.
        if (store === 's3') {
          await until('the first part reached s3rver', async () => (await s3.requests()).some((r) => r.method === 'PUT' && r.path.includes(remote) && r.path.includes('partNumber=')));
        } else {
          const dir = join(buckets, 'backups', 'm', 'single');
          await until('the temporary file exists', () => existsSync(dir) && readdirSync(dir).some((n) => n.startsWith(`${remote}.tftpfn-upload-`)));
        }
        const during = delta(figures(await scrape(gw()), store), before);
        expect(during.active).toBe(1);
        expect(during.started).toBe(1);
        // The function allows one upload per client at a time: a second one is refused busy.
        const second = await curlPut(gw(), localFile(`second-${store}.bin`, seededBytes(SEED + 3, 1000)), `single/second-${store}.bin`);
        expect(second.code).not.toBe(0);
        const busy = await gw().waitForRecord((r) => r.file === `single/second-${store}.bin`);
        expect(busy).toMatchObject({ outcome: 'busy', errorCode: 0, errorMessage: 'too many sessions from this client', bytes: 0 });
      } finally {
        child.kill('SIGKILL');
      }
      const rec = await gw().waitForRecord((r) => r.file === `single/${remote}`, 20_000);
      expect(rec.optionsAcked?.timeout).toBe('6');
      expect(rec.outcome).toBe('too-slow');
      // The abort follows the session's end (parts in flight are awaited first): bounded wait.
      let d = NONE;
      await until('the upload was counted aborted', async () => {
        d = delta(figures(await scrape(gw()), store), before);
        return d.aborted === 1;
      });
      expect(d).toEqual({ ...NONE, started: 1, aborted: 1, refusedPerClient: 1, abortFailures: store === 's3' ? 1 : 0, writesTooSlow: 1, writesRefusedSingle: 1, bytesReceived: rec.bytes, writeDurations: 2 });
      expect(rec.bytes).toBeGreaterThanOrEqual(5 * MiB);
    }, 90_000);

    if (store === 'folder') {
      it('the sweep removes a temporary file a crashed gateway left under a prefix this one writes to: swept +1, nothing else moves', async () => {
        const before = figures(await scrape(gw()), store);
        // As upload-local.ts names them: KEY.tftpfn-upload-PID-ID, two hours old.
        const stale = join(buckets, 'backups', 'm', 'crashed.bin.tftpfn-upload-4242-00aa11bb22cc33dd');
        writeFileSync(stale, 'half an upload');
        const twoHoursAgo = new Date(Date.now() - 2 * 3600_000);
        utimesSync(stale, twoHoursAgo, twoHoursAgo);
        await until('the sweep removed it', () => !existsSync(stale));
        const d = delta(figures(await scrape(gw()), store), before);
        expect(d).toEqual({ ...NONE, swept: 1 });
      }, 30_000);
    }
  });
}

describe('upload metrics, store function (uploads the function reads itself: accepted())', () => {
  const store = 'function';
  const gw = () => fnGw;

  it('curl -T of a 3 MiB + 5 file read whole and accepted: started, committed with its bytes, nothing active; accepted() without reading counts the bytes dropped', async () => {
    const bytes = seededBytes(SEED + 20, 3 * MiB + 5);
    const before = figures(await scrape(gw()), store);
    const run = await curlPut(gw(), localFile('fn-ok.bin', bytes), 'fn-ok.bin');
    expect(run.code, run.stderr).toBe(0);
    expect((await gw().waitForRecord((r) => r.file === 'fn-ok.bin')).outcome).toBe('ok');
    const skipped = seededBytes(SEED + 21, 100_000);
    const run2 = await curlPut(gw(), localFile('fn-skip.bin', skipped), 'skip-fn.bin');
    expect(run2.code, run2.stderr).toBe(0);
    expect((await gw().waitForRecord((r) => r.file === 'skip-fn.bin')).outcome).toBe('ok');
    const d = delta(figures(await scrape(gw()), store), before);
    expect(d).toEqual({ ...NONE, started: 2, committed: 2, bytes: bytes.length + skipped.length, writesOk: 2, bytesReceived: bytes.length + skipped.length, writeDurations: 2 });
  }, 60_000);

  it('discard(): counted as store="discard" (started, committed with the bytes dropped), nothing as store="function"', async () => {
    const bytes = seededBytes(SEED + 24, 70_000);
    const before = { fn: figures(await scrape(gw()), store), drop: figures(await scrape(gw()), 'discard') };
    const run = await curlPut(gw(), localFile('fn-drop.bin', bytes), 'drop-fn.bin');
    expect(run.code, run.stderr).toBe(0);
    expect((await gw().waitForRecord((r) => r.file === 'drop-fn.bin')).outcome).toBe('ok');
    const after = await scrape(gw());
    expect(delta(figures(after, 'discard'), before.drop)).toEqual({ ...NONE, started: 1, committed: 1, bytes: bytes.length, writesOk: 1, bytesReceived: bytes.length, writeDurations: 1 });
    expect(delta(figures(after, store), before.fn)).toMatchObject({ started: 0, committed: 0, aborted: 0, active: 0 });
  }, 60_000);

  it('a function that reads everything and answers denied(): one aborted, nothing committed', async () => {
    const before = figures(await scrape(gw()), store);
    const run = await curlPut(gw(), localFile('fn-deny.bin', seededBytes(SEED + 22, 200_000)), 'deny-fn.bin');
    expect(run.code).not.toBe(0);
    const rec = await gw().waitForRecord((r) => r.file === 'deny-fn.bin');
    expect(rec.errorCode).toBe(2);
    const d = delta(figures(await scrape(gw()), store), before);
    expect(d).toMatchObject({ started: 1, committed: 0, aborted: 1, bytes: 0, active: 0, refusedPerClient: 0 });
  }, 60_000);

  it('maxUploadsPerClient 1: while one upload is being read it shows active; a second curl -T from the client is refused per client (ERROR 0, outcome busy), a discard() one too; the first, ended by its client, is aborted', async () => {
    const before = figures(await scrape(gw()), store);
    const beforeDrop = figures(await scrape(gw()), 'discard');
    const first = await RawPeer.open();
    try {
      const port = gw().addresses[0]!.port;
      first.wrq(port, 'stall-fn.bin', { blksize: '1468' });
      const oack = await first.expect(Opcode.Oack);
      first.data(oack.port, 1, new Uint8Array(1468));
      await first.expect(Opcode.Ack);
      const during = delta(figures(await scrape(gw()), store), before);
      expect(during).toMatchObject({ started: 1, active: 1 });
      const second = await curlPut(gw(), localFile('fn-second.bin', seededBytes(SEED + 23, 1000)), 'fn-second.bin');
      expect(second.code).not.toBe(0);
      expect(await gw().waitForRecord((r) => r.file === 'fn-second.bin')).toMatchObject({ outcome: 'busy', errorCode: 0, errorMessage: 'too many sessions from this client', bytes: 0 });
      // The client's slots are the function's, whatever the upload's store: a discard() upload is refused too.
      const dropped = await curlPut(gw(), localFile('fn-drop-second.bin', seededBytes(SEED + 25, 1000)), 'drop-second.bin');
      expect(dropped.code).not.toBe(0);
      expect((await gw().waitForRecord((r) => r.file === 'drop-second.bin')).outcome).toBe('busy');
      first.error(oack.port, 0, 'done');
      expect((await gw().waitForRecord((r) => r.file === 'stall-fn.bin')).outcome).toBe('client-abort');
    } finally {
      await first.close();
    }
    let d = NONE;
    await until('the first upload was counted aborted', async () => {
      d = delta(figures(await scrape(gw()), store), before);
      return d.aborted === 1;
    });
    expect(d).toMatchObject({ started: 1, committed: 0, aborted: 1, active: 0, refusedPerClient: 1, writesFnBusy: 2 });
    expect(delta(figures(await scrape(gw()), 'discard'), beforeDrop)).toMatchObject({ started: 0, refusedPerClient: 1 });
  }, 60_000);
});
