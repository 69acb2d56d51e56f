/**
 * The worker pool with real worker threads and real bundles: every way user code can fail
 * fails only its own invocation, and streams are paid for with credit.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { WorkerPool, FunctionLoadError, type FunctionResult, type PoolSpec } from '../../../gateway/src/runtime/worker-pool.js';
import { FunctionFailure } from '../../../gateway/src/runtime/function-failure.js';
import { TftpError } from '../../../gateway/src/protocol/error-codes.js';
import { buildFixture, captureLog, eventually, fnRequest } from '../../helpers/functions.js';

let bundlePath: string;
const pools: WorkerPool[] = [];

function spec(over: Partial<PoolSpec> = {}): PoolSpec {
  return {
    name: 'behaviours',
    version: 'v1',
    bundlePath,
    size: 2,
    heapMb: 64,
    timeoutMs: 1000,
    maxConcurrent: 100,
    vars: { SITE: 'lab' },
    secrets: { TOKEN: 's3cr3t-t0ken' },
    streamHighWaterBytes: 256 * 1024,
    ...over,
  };
}

async function startPool(over: Partial<PoolSpec> = {}, log = captureLog()) {
  const pool = new WorkerPool(spec(over), log.logger);
  pools.push(pool);
  await pool.start();
  return { pool, log };
}

function body(r: FunctionResult): string {
  if (r.kind !== 'bytes') throw new Error(`expected bytes, got ${r.kind}`);
  return Buffer.from(r.body).toString();
}

async function failure(p: Promise<unknown>): Promise<{ wire: TftpError; cause: FunctionFailure }> {
  const e = await p.then(
    () => {
      throw new Error('expected the invocation to fail');
    },
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(TftpError);
  const wire = e as TftpError;
  expect(wire.code).toBe('TFTP_FUNCTION_FAILED');
  expect(wire.cause).toBeInstanceOf(FunctionFailure);
  return { wire, cause: wire.cause as FunctionFailure };
}

beforeAll(async () => {
  process.env.TFTPFN_TEST_GATEWAY_SECRET = 'must-not-leak';
  bundlePath = await buildFixture('behaviours');
});

afterAll(async () => {
  await Promise.all(pools.map((p) => p.close()));
});

describe('answers', () => {
  test('the request, vars and a secret reach the handler; the gateway environment does not', async () => {
    const { pool } = await startPool();
    const req = fnRequest('echo', { blksize: '1468' });
    const got = JSON.parse(body(await pool.invoke(req)));
    expect(got.request).toEqual(req);
    expect(got.vars).toEqual({ SITE: 'lab' });
    expect(got.hasSecret).toBe(true);
    expect(got.envKeys).not.toContain('TFTPFN_TEST_GATEWAY_SECRET');
    expect(got.envKeys).not.toContain('PATH');
  });

  test('bytes, error and file responses cross the thread as they are', async () => {
    const { pool } = await startPool();
    const bytes = await pool.invoke(fnRequest('bytes'));
    expect(bytes.kind === 'bytes' && [...bytes.body]).toEqual([0, 1, 2, 255]);
    expect(await pool.invoke(fnRequest('not-found'))).toEqual({ kind: 'error', code: 1, message: 'no such machine' });
    expect(await pool.invoke(fnRequest('file'))).toEqual({ kind: 'file', path: 'hello.txt' });
  });

  test('secrets are redacted from function logs and console output', async () => {
    const { pool, log } = await startPool();
    expect(body(await pool.invoke(fnRequest('log-secret')))).toBe('logged');
    expect(await eventually(() => log.text().includes('stdout [redacted]'))).toBe(true);
    const line = log.lines.find((l) => l.event === 'functionLog')!;
    expect(line.msg).toBe('token is [redacted]');
    expect(line.token).toBe('[redacted]');
    expect((line.nested as { again: string }).again).toBe('x[redacted]x');
    expect(log.text()).not.toContain('s3cr3t-t0ken');
  });
});

describe('user code failing fails only its own invocation', () => {
  test('a throw, a rejection and a non-Response each fail with their reason; the secret stays out of it', async () => {
    const { pool, log } = await startPool();
    const thrown = await failure(pool.invoke(fnRequest('throw')));
    expect(thrown.wire.tftpCode).toBe(0);
    expect(thrown.wire.message).toBe('internal error');
    expect(thrown.cause.kind).toBe('threw');
    expect(thrown.cause.message).toBe('boom with [redacted]');
    // Source maps: the trace names the author's file, not the bundle.
    expect(thrown.cause.stack).toMatch(/fixtures\/functions\/behaviours\.ts:\d+/);
    expect((await failure(pool.invoke(fnRequest('reject')))).cause.kind).toBe('threw');
    const bad = await failure(pool.invoke(fnRequest('bad')));
    expect(bad.cause.kind).toBe('bad-response');
    expect(bad.cause.message).toMatch(/must return a Response/);
    expect(body(await pool.invoke(fnRequest('fine')))).toBe('hello fine\n');
    expect(pool.stats.crashes).toBe(0);
    expect(log.text()).not.toContain('s3cr3t-t0ken');
  });

  test('a synchronous hang times out; invocations sharing its worker are retried and succeed; the worker is replaced', async () => {
    const { pool } = await startPool({ timeoutMs: 500 });
    const started = Date.now();
    const spin = failure(pool.invoke(fnRequest('spin')));
    const others = Array.from({ length: 8 }, (_, i) => pool.invoke(fnRequest(`other-${i}`)));
    const results = await Promise.all(others);
    expect(results.map(body)).toEqual(Array.from({ length: 8 }, (_, i) => `hello other-${i}\n`));
    const { cause } = await spin;
    expect(cause.kind).toBe('timeout');
    // Its first run's worker is stuck (terminated), then its retry fails the limit again.
    expect(Date.now() - started).toBeLessThan(4000);
    expect(pool.stats.crashes).toBeGreaterThanOrEqual(1);
    expect(await eventually(() => pool.size === 2)).toBe(true);
    expect(body(await pool.invoke(fnRequest('after')))).toBe('hello after\n');
  });

  test('an await that never settles times out without costing the worker', async () => {
    const { pool } = await startPool({ timeoutMs: 300 });
    const { cause } = await failure(pool.invoke(fnRequest('await-forever')));
    expect(cause.kind).toBe('timeout');
    expect(pool.stats.crashes).toBe(0);
    expect(body(await pool.invoke(fnRequest('x')))).toBe('hello x\n');
  });

  test.each([
    ['oom', /heap limit of 32 MiB/],
    ['exit', /exited with code 7/],
    ['uncaught', /thrown from a timer/],
  ])('%s kills its worker: that invocation fails, a concurrent one succeeds, the pool recovers', async (path, why) => {
    const { pool, log } = await startPool({ heapMb: 32, timeoutMs: 5000 });
    const bad = failure(pool.invoke(fnRequest(path)));
    const good = pool.invoke(fnRequest('slow'));
    expect(body(await good)).toBe('slow done');
    const { cause, wire } = await bad;
    expect(wire.message).toBe('internal error');
    expect(cause.kind).toBe('worker-crashed');
    expect(cause.message).toMatch(why);
    expect(log.lines.some((l) => l.event === 'workerExit')).toBe(true);
    expect(await eventually(() => pool.size === 2)).toBe(true);
    expect(body(await pool.invoke(fnRequest('again')))).toBe('hello again\n');
  });

  test('beyond maxConcurrent, invocations wait for a slot; beyond the queue they are refused as busy', async () => {
    const { pool } = await startPool({ maxConcurrent: 2, timeoutMs: 2000 });
    const calls = Array.from({ length: 5 }, () => pool.invoke(fnRequest('slow')).then(body, (e: TftpError) => e));
    const results = await Promise.all(calls);
    expect(results.filter((r) => r === 'slow done')).toHaveLength(4);
    const refused = results.find((r) => r instanceof TftpError) as TftpError;
    expect(refused.message).toBe('server busy, try again later');
    expect((refused.cause as FunctionFailure).kind).toBe('busy');
  });
});

describe('loading', () => {
  test.each([
    ['no-handle', /exports no handle function/],
    ['throws-at-import', /cannot start: missing configuration/],
  ])('%s is rejected with a clear reason', async (fixture, why) => {
    const path = await buildFixture(fixture);
    const pool = new WorkerPool(spec({ bundlePath: path, version: 'bad' }), captureLog().logger);
    const e = await pool.start().then(() => undefined, (err: unknown) => err);
    expect(e).toBeInstanceOf(FunctionLoadError);
    expect((e as Error).message).toMatch(why);
    expect((e as Error).message).toContain('behaviours@bad');
    expect(pool.size).toBe(0);
  });
});

describe('streams', () => {
  async function readAll(r: FunctionResult): Promise<Buffer> {
    if (r.kind !== 'stream') throw new Error(`expected a stream, got ${r.kind}`);
    const parts: Uint8Array[] = [];
    for (let c = await r.reader.read(65536); c !== null; c = await r.reader.read(65536)) parts.push(c);
    return Buffer.concat(parts);
  }

  test('a 64 MiB stream arrives whole, with its declared size', async () => {
    const { pool } = await startPool();
    const r = await pool.invoke(fnRequest('big-stream'));
    expect(r.kind === 'stream' && r.reader.size).toBe(64 * 1024 * 1024);
    const all = await readAll(r);
    expect(all.length).toBe(64 * 1024 * 1024);
    expect(all[0]).toBe(0);
    expect(all[all.length - 1]).toBe(1023 & 255);
    expect(pool.inflight).toBe(0);
  });

  test('a reader that stops reading stops the producer: it runs at most the credit ahead', async () => {
    const { pool, log } = await startPool();
    const r = await pool.invoke(fnRequest('big-stream', { chunk: '16384' }));
    if (r.kind !== 'stream') throw new Error('expected a stream');
    const first = await r.reader.read(16384);
    expect(first?.length).toBe(16384);
    await new Promise((res) => setTimeout(res, 300));
    const produced = Math.max(...log.lines.filter((l) => l.msg === 'chunk').map((l) => l.produced as number));
    // 256 KiB of credit, plus the chunk in hand and one sized by the author.
    expect(produced).toBeLessThanOrEqual(256 * 1024 + 2 * 16384);
    expect(produced).toBeGreaterThan(0);
    await r.reader.close();
    expect(await eventually(() => log.lines.some((l) => l.msg === 'generator finally'))).toBe(true);
    expect(pool.inflight).toBe(0);
  });

  test('a stream shorter than declared, one that throws, and one that stalls each fail', async () => {
    const { pool } = await startPool({ timeoutMs: 400 });
    const short = failure(readAll(await pool.invoke(fnRequest('short-stream'))));
    expect((await short).cause.kind).toBe('size-mismatch');
    const threw = await failure(readAll(await pool.invoke(fnRequest('stream-throws'))));
    expect(threw.cause.kind).toBe('stream-threw');
    expect(threw.cause.message).toBe('generator failed');
    const stalled = await failure(readAll(await pool.invoke(fnRequest('stream-stalls'))));
    expect(stalled.cause.kind).toBe('timeout');
    expect(body(await pool.invoke(fnRequest('still-fine')))).toBe('hello still-fine\n');
    expect(await eventually(() => pool.inflight === 0)).toBe(true);
  });
});
