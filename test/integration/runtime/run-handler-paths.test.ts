/**
 * One function, every way the project runs it: the author harness (sdk invoke), the
 * in-process invoker, a worker pool of sandboxed processes and of worker threads, and the
 * gateway itself fetched over TFTP. All run user code through runtime/run-handler.ts, so a
 * stream that re-yields or refills one buffer gives the same bytes everywhere. (Before it, a
 * thread worker transferred the author's buffer on the first yield, so a re-yield arrived
 * empty and the transfer failed with a size mismatch while invoke passed.)
 */
import { pathToFileURL } from 'node:url';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { pino } from 'pino';
import type { Handler } from '../../../sdk/contract.js';
import { invoke } from '../../../sdk/invoke.js';
import { InProcessInvoker } from '../../../gateway/src/runtime/in-process.js';
import { WorkerPool } from '../../../gateway/src/runtime/worker-pool.js';
import type { FunctionResult, Invoker } from '../../../gateway/src/runtime/invoker.js';
import { createGateway, type RunningGateway } from '../../../gateway/src/index.js';
import { get } from '../../../client/index.js';
import { buildFixture, FIXTURES, fnRequest } from '../../helpers/functions.js';

const silent = pino({ level: 'silent' });
const CHUNK = 1000;

/** What each path must deliver: the bytes of each chunk as they were when it was yielded. */
const expected: Record<string, Buffer> = {
  same: Buffer.alloc(4 * CHUNK, 7),
  refill: Buffer.concat([1, 2, 3, 4].map((v) => Buffer.alloc(CHUNK, v))),
  views: Buffer.concat([10, 11, 12, 13].map((v) => Buffer.alloc(CHUNK, v))),
};
const paths = Object.keys(expected);

let handle: Handler;
let bundlePath: string;
const invokers: Invoker[] = [];
let gw: RunningGateway;

async function readAll(r: FunctionResult): Promise<Buffer> {
  if (r.kind !== 'stream') throw new Error(`expected a stream, got ${r.kind}`);
  const parts: Uint8Array[] = [];
  // The session keeps what it read (its window) while it reads on: so does this loop.
  for (let c = await r.reader.read(65536); c !== null; c = await r.reader.read(65536)) parts.push(c);
  return Buffer.concat(parts);
}

beforeAll(async () => {
  bundlePath = await buildFixture('reyield');
  handle = ((await import(pathToFileURL(bundlePath).href)) as { handle: Handler }).handle;
  gw = await createGateway({
    hosts: ['127.0.0.1'],
    port: 0,
    handle: join(FIXTURES, 'reyield.ts'),
    functions: { main: { poolSize: 1, timeoutMs: 5000 } },
    logger: silent,
  });
}, 60_000);

afterAll(async () => {
  await Promise.all(invokers.map((i) => i.close()));
  await gw?.close(0);
});

async function pool(isolation: 'process' | 'thread'): Promise<Invoker> {
  const p = new WorkerPool(
    { name: 'reyield', version: 'v1', bundlePath, size: 1, heapMb: 64, timeoutMs: 5000, maxConcurrent: 10, vars: {}, secrets: {}, streamHighWaterBytes: 256 * 1024, isolation },
    silent,
  );
  invokers.push(p);
  await p.start();
  return p;
}

describe('run-handler: one re-yielding stream, the same bytes through every path', () => {
  test.each(paths)('sdk invoke: %s', async (path) => {
    const r = await invoke(handle, path);
    expect(r.errorCode, String(r.thrown)).toBeUndefined();
    expect(r.body.equals(expected[path])).toBe(true);
  });

  test.each(paths)('in-process invoker: %s', async (path) => {
    const inproc = new InProcessInvoker(handle, { name: 'reyield', timeoutMs: 5000 }, silent);
    expect((await readAll(await inproc.invoke(fnRequest(path)))).equals(expected[path])).toBe(true);
    expect(inproc.inflight).toBe(0);
  });

  test.each(['process', 'thread'] as const)('worker pool (isolation %s): every path', async (isolation) => {
    const p = await pool(isolation);
    for (const path of paths) {
      const got = await readAll(await p.invoke(fnRequest(path)));
      expect(got.equals(expected[path]), `${isolation} ${path}: ${got.length} bytes`).toBe(true);
    }
  });

  test.each(paths)('the gateway over TFTP: %s', async (path) => {
    const r = await get({ host: '127.0.0.1', port: gw.port, path, timeoutMs: 2000, retries: 3 });
    expect(Buffer.from(r.data!).equals(expected[path])).toBe(true);
  });
});
