/**
 * Functions behind the real gateway, fetched by real clients: what a function returns is
 * what the client gets, a failing function costs only its own transfer (ERROR 0 and a
 * function-error record), and retransmits come from the session's window, not the function.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { pino } from 'pino';
import { createGateway, type RunningGateway, type ServerStats, type SessionRecord } from '../../gateway/src/index.js';
import { get } from '../../client/index.js';
import { encodeAck, Opcode } from '../../gateway/src/protocol/packet.js';
import { text, stream } from '../../sdk/index.js';
import { FIXTURES } from '../helpers/functions.js';
import { describeRun, killAllClients, runClient } from '../interop/run-client.js';
import { RawPeer } from '../helpers/raw-peer.js';

const records: SessionRecord[] = [];
let gw: RunningGateway;
let root: string;

async function recordFor(file: string, ms = 10_000): Promise<SessionRecord> {
  const end = Date.now() + ms;
  for (;;) {
    const r = records.find((x) => x.file === file);
    if (r) return r;
    if (Date.now() > end) throw new Error(`no session record for ${file}`);
    await new Promise((res) => setTimeout(res, 20));
  }
}

async function curl(path: string, extra: string[] = []) {
  const out = join(mkdtempSync(join(tmpdir(), 'tftpfn-curl-')), 'out');
  const args = ['-sS', ...extra, '-o', out, `tftp://127.0.0.1:${gw.port}/${path}`];
  const r = await runClient('curl', args, { timeoutMs: 20_000 });
  let body: Buffer | undefined;
  try {
    body = readFileSync(out);
  } catch {
    body = undefined;
  }
  return { ...r, body, why: describeRun('curl', args, r) };
}

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'tftpfn-fnroot-'));
  writeFileSync(join(root, 'hello.txt'), 'hello from a file\n');
  gw = await createGateway({
    hosts: ['127.0.0.1'],
    port: 0,
    root,
    handle: join(FIXTURES, 'behaviours.ts'),
    functions: { main: { poolSize: 2, timeoutMs: 1500, heapMb: 48, secrets: { TOKEN: 'gw-secret-1' } } },
    logger: pino({ level: 'silent' }),
    onSession: (r) => records.push(r),
  });
});

afterAll(async () => {
  killAllClients();
  await gw?.close(0);
});

describe('a worker function behind the gateway', () => {
  test('curl gets the generated text; the record names the function and version', async () => {
    const r = await curl('anything/at/all');
    expect(r.code, r.why).toBe(0);
    expect(r.body?.toString()).toBe('hello anything/at/all\n');
    const rec = await recordFor('anything/at/all');
    expect(rec).toMatchObject({ outcome: 'ok', function: 'main', source: 'generated', bytes: 22 });
    expect(rec.version).toMatch(/^local-[0-9a-f]{12}$/);
  });

  test('file() serves from the function root; tftp-hpa and busybox agree byte for byte', async () => {
    const r = await curl('file');
    expect(r.body?.toString(), r.why).toBe('hello from a file\n');
    expect((await recordFor('file')).source).toBe('folder');
    const dir = mkdtempSync(join(tmpdir(), 'tftpfn-clients-'));
    const hpa = await runClient('tftp', ['-m', 'binary', '127.0.0.1', String(gw.port), '-c', 'get', 'file', join(dir, 'hpa')]);
    expect(readFileSync(join(dir, 'hpa'), 'utf8'), describeRun('tftp', [], hpa)).toBe('hello from a file\n');
    const bb = await runClient('busybox', ['tftp', '-g', '-r', 'file', '-l', join(dir, 'bb'), '127.0.0.1', String(gw.port)]);
    expect(readFileSync(join(dir, 'bb'), 'utf8'), describeRun('busybox', [], bb)).toBe('hello from a file\n');
  });

  test('a 64 MiB generated stream reaches atftp whole, with tsize and windowsize', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tftpfn-atftp-'));
    const args = ['--option', 'blksize 1468', '--option', 'tsize 0', '--option', 'windowsize 16', '-g', '-r', 'big-stream', '-l', join(dir, 'big'), '127.0.0.1', String(gw.port)];
    const r = await runClient('atftp', args, { timeoutMs: 60_000 });
    const got = readFileSync(join(dir, 'big'));
    expect(got.length, describeRun('atftp', args, r)).toBe(64 * 1024 * 1024);
    for (const at of [0, 65536, 65536 * 500, got.length - 1]) expect(got[at]).toBe(Math.floor(at / 65536) & 255);
    const rec = await recordFor('big-stream');
    expect(rec).toMatchObject({ outcome: 'ok', tsize: 64 * 1024 * 1024, bytes: 64 * 1024 * 1024, windowSize: 16 });
  });

  test('an error response reaches the client as that ERROR', async () => {
    const r = await curl('not-found');
    expect(r.code).not.toBe(0);
    const rec = await recordFor('not-found');
    expect(rec).toMatchObject({ outcome: 'not-found', errorCode: 1, errorMessage: 'no such machine', function: 'main' });
  });

  test.each(['throw', 'bad', 'exit'])('%s: the client gets ERROR 0 "internal error"; the record says function-error', async (path) => {
    const res = await get({ host: '127.0.0.1', port: gw.port, path, timeoutMs: 500, retries: 3 }).then(
      () => undefined,
      (e: Error & { code?: number }) => e,
    );
    expect(res).toBeInstanceOf(Error);
    expect(res!.message).toMatch(/internal error/);
    const rec = await recordFor(path);
    expect(rec).toMatchObject({ outcome: 'function-error', errorCode: 0, errorMessage: 'internal error', function: 'main' });
  });

  test('a spinning function fails its transfer while 20 others on the same pool succeed', async () => {
    const spin = get({ host: '127.0.0.1', port: gw.port, path: 'spin', timeoutMs: 1000, retries: 10 }).then(
      () => 'no error',
      (e: Error) => e.message,
    );
    const others = await Promise.all(
      Array.from({ length: 20 }, (_, i) => get({ host: '127.0.0.1', port: gw.port, path: `peer-${i}`, timeoutMs: 1000, retries: 10 }).then((r) => Buffer.from(r.data!).toString())),
    );
    expect(others).toEqual(Array.from({ length: 20 }, (_, i) => `hello peer-${i}\n`));
    expect(await spin).toMatch(/internal error/);
    expect((await recordFor('spin')).outcome).toBe('function-error');
    expect((await curl('after-spin')).body?.toString()).toBe('hello after-spin\n');
  });

  test('a lost DATA block is resent from the window: the function runs once per transfer', async () => {
    const peer = await RawPeer.open();
    try {
      // Four blocks: a repeat of the request after DATA 1 is a retransmission while the transfer
      // is still under way (after its last block the same request is the client's next transfer:
      // issue 13, test/robustness/port-reuse.test.ts).
      peer.rrq(gw.port, 'bytes-2k');
      const first = await peer.next(2000);
      // The client repeats its request, as one whose DATA 1 was lost does (before any ACK the
      // gateway answers each request datagram once: issue 9, reflection bound): the same DATA 1
      // comes from the window, without a second invocation.
      peer.rrq(gw.port, 'bytes-2k');
      const again = await peer.next(3000);
      expect(again.packet).toEqual(first.packet);
      expect(again.from.port).toBe(first.from.port);
      peer.send(encodeAck(1), first.from.port);
      for (let block = 2; block <= 4; block++) {
        const d = await peer.expect(Opcode.Data, 3000);
        expect(d.packet).toMatchObject({ block });
        peer.send(encodeAck(block), first.from.port);
      }
      // Closed only after the record: a datagram still queued on a closed socket is lost.
      await recordFor('bytes-2k');
    } finally {
      peer.close();
    }
    const rec = await recordFor('bytes-2k');
    expect(rec.bytes).toBe(2000);
    expect(rec.outcome).toBe('ok');
    expect(rec.retransmits).toBeGreaterThanOrEqual(1);
    const pool = gw.functions!.status().find((s) => s.name === 'main')!;
    expect(pool.inflight).toBe(0);
    // Pool totals add up across the failures this file caused (throw, bad, exit, spin).
    expect(pool.totals.crashes).toBeGreaterThanOrEqual(2);
    expect(pool.totals.failures).toBeGreaterThanOrEqual(2);
    expect(pool.totals.timeouts).toBeGreaterThanOrEqual(1);
  });
});

describe('createGateway with an in-process handle', () => {
  test('serves, streams, reports sessions and server stats', async () => {
    const sessions: SessionRecord[] = [];
    const stats: ServerStats[] = [];
    const inproc = await createGateway({
      hosts: ['127.0.0.1'],
      port: 0,
      root,
      logger: pino({ level: 'silent' }),
      handle: (request) =>
        request.path === 'count'
          ? stream(
              (async function* () {
                for (let i = 0; i < 1000; i++) yield new TextEncoder().encode(`${i}\n`);
              })(),
            )
          : text(`in-process ${request.peer.address}\n`),
      onSession: (r) => sessions.push(r),
      onServerStats: (s) => stats.push(s),
      serverStatsIntervalMs: 50,
    });
    try {
      const a = await get({ host: '127.0.0.1', port: inproc.port, path: 'x' });
      expect(Buffer.from(a.data!).toString()).toBe('in-process 127.0.0.1\n');
      const b = await get({ host: '127.0.0.1', port: inproc.port, path: 'count', blksize: 1468 });
      expect(Buffer.from(b.data!).toString()).toBe(Array.from({ length: 1000 }, (_, i) => `${i}\n`).join(''));
      const end = Date.now() + 2000;
      // The last record lands just after the client has its bytes (the server sees the final ACK).
      while (sessions.length < 2 || stats.length === 0 || (stats[stats.length - 1].counters.sessionsByOutcome.ok ?? 0) < 2) {
        if (Date.now() > end) break;
        await new Promise((r) => setTimeout(r, 20));
      }
      expect(sessions.map((s) => [s.file, s.outcome, s.function, s.version])).toEqual([
        ['x', 'ok', 'main', 'in-process'],
        ['count', 'ok', 'main', 'in-process'],
      ]);
      const last = stats[stats.length - 1];
      expect(last.counters.sessionsStarted).toBe(2);
      expect(last.counters.sessionsByOutcome.ok).toBe(2);
      expect(last.functions).toEqual([
        { name: 'main', source: 'in-process', version: 'in-process', workers: 0, inflight: 0, draining: 0, totals: { invocations: 0, failures: 0, timeouts: 0, crashes: 0, retries: 0, restarts: 0 } },
      ]);
    } finally {
      await inproc.close(0);
    }
  });
});
