/**
 * `invoke must run a function exactly as the gateway will` (issue 14): one function that hands
 * the runtime one buffer more than once (test/fixtures/functions/reyield.ts) through the three
 * ways an author meets it: `tftpfn invoke` (its default sandboxed process, and --isolation
 * thread), the SDK's `invoke` harness, and the gateway fetched over TFTP. All run it through
 * runtime/run-handler.ts, which snapshots each chunk as it is yielded, so they must give the
 * same bytes; and a stream that produces less than its declared size is refused by all of them
 * (ERROR 0). Before run-handler, a thread worker transferred the author's buffer, so a re-yield
 * arrived detached: `invoke` passed while the gateway failed with "declared size ... produced".
 */
import { execFile } from 'node:child_process';
import { dirname, join } from 'node:path';
import { pathToFileURL, fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { pino } from 'pino';
import type { Handler } from '../../sdk/contract.js';
import { invoke } from '../../sdk/invoke.js';
import { createGateway, type RunningGateway } from '../../gateway/src/index.js';
import { get } from '../../client/index.js';
import { buildFixture, FIXTURES } from '../helpers/functions.js';

const repo = join(dirname(fileURLToPath(import.meta.url)), '../..');
const bin = join(repo, 'bin/tftpfn.js');
const CHUNK = 1000;

/** What a client gets: the bytes, or the ERROR code. */
type Answer = { body: string } | { errorCode: number };

const expected: Record<string, Answer> = {
  same: { body: Buffer.alloc(4 * CHUNK, 7).toString('hex') },
  refill: { body: Buffer.concat([1, 2, 3, 4].map((v) => Buffer.alloc(CHUNK, v))).toString('hex') },
  views: { body: Buffer.concat([10, 11, 12, 13].map((v) => Buffer.alloc(CHUNK, v))).toString('hex') },
  // Declares 4000 bytes, re-yields one buffer three times: refused everywhere, never cut short silently.
  short: { errorCode: 0 },
};
const paths = Object.keys(expected);

let handle: Handler;
let gw: RunningGateway;

beforeAll(async () => {
  const bundlePath = await buildFixture('reyield');
  handle = ((await import(pathToFileURL(bundlePath).href)) as { handle: Handler }).handle;
  gw = await createGateway({ hosts: ['127.0.0.1'], port: 0, handle: join(FIXTURES, 'reyield.ts'), functions: { main: { poolSize: 1, timeoutMs: 5000 } }, logger: pino({ level: 'silent' }) });
}, 60_000);

afterAll(async () => {
  await gw?.close(0);
});

async function viaSdk(path: string): Promise<Answer> {
  const r = await invoke(handle, { path, options: { tsize: '0' } });
  return r.errorCode !== undefined ? { errorCode: r.errorCode } : { body: r.body.toString('hex') };
}

async function viaCli(path: string, isolation: 'process' | 'thread'): Promise<Answer> {
  const args = [bin, 'invoke', join(FIXTURES, 'reyield.ts'), '--path', path, '--option', 'tsize=0', '--isolation', isolation, '--json'];
  // Exit 1 means "the client would get an ERROR packet": the JSON is printed all the same.
  const out = await promisify(execFile)(process.execPath, args, { cwd: repo, maxBuffer: 1 << 24 }).catch((e: { code?: number; stdout?: string }) => {
    if (e.code === 1 && e.stdout) return { stdout: e.stdout };
    throw e;
  });
  const r = JSON.parse(out.stdout) as { body: string; errorCode?: number };
  return r.errorCode !== undefined ? { errorCode: r.errorCode } : { body: Buffer.from(r.body, 'base64').toString('hex') };
}

async function viaGateway(path: string): Promise<Answer> {
  try {
    const r = await get({ host: '127.0.0.1', port: gw.port, path, tsize: true, timeoutMs: 2000, retries: 3 });
    return { body: Buffer.from(r.data!).toString('hex') };
  } catch (e) {
    const code = (e as { remoteCode?: number }).remoteCode;
    if (code === undefined) throw e;
    return { errorCode: code };
  }
}

describe('invoke and the gateway agree', () => {
  test.each(paths)('invoke, the SDK harness and the gateway give the same answer: %s', async (path) => {
    const answers = {
      sdk: await viaSdk(path),
      'tftpfn invoke': await viaCli(path, 'process'),
      'tftpfn invoke --isolation thread': await viaCli(path, 'thread'),
      gateway: await viaGateway(path),
    };
    for (const [how, answer] of Object.entries(answers)) expect(answer, `${path} through ${how}`).toEqual(expected[path]);
  }, 60_000);
});
