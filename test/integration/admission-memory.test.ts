/**
 * Issue 9 §2: "1,000 spoofable 54-byte RRQs (blksize 65464 windowsize 64, 40 MiB file, from 50
 * addresses) raised peak RSS to 3.65 GB, not returned afterwards." Every session now reserves
 * the buffers its window holds from a global budget (maxBufferBytes): a request whose first
 * window does not fit is refused busy (ERROR 0), counted, and the bytes come back when sessions
 * end. A read session's window starts at one slow-start block until its peer ACKs on the
 * session's random port, so a blind flood reserves (and holds) little and cannot fill the
 * budget for everyone; a peer that proves itself reserves its full window then, or is told busy.
 *
 * The flood runs against a gateway in a child process (bundled from the sources with esbuild),
 * so its peak RSS (VmHWM) is its own and not the test runner's. Default scale: 200 RRQs from 20
 * addresses against a 64 MiB budget. `ADMISSION_FLOOD_SCALE=issue` runs the issue's figure:
 * 1,000 RRQs from 50 addresses against the default budget (1 GiB);
 * `ADMISSION_FLOOD_BUDGET_BYTES=N` overrides the budget. Figures are printed.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { get } from '../../client/index.js';
import type { ServerCounters } from '../../gateway/src/index.js';
import { REPO } from '../helpers/cli.js';
import { Crowd } from './admission-helpers.js';
import { waitUntil } from '../helpers/raw-peer.js';

const ISSUE_SCALE = process.env.ADMISSION_FLOOD_SCALE === 'issue';
const REQUESTS = ISSUE_SCALE ? 1000 : 200;
const ADDRESSES = ISSUE_SCALE ? 50 : 20;
const BUDGET_BYTES = Number(process.env.ADMISSION_FLOOD_BUDGET_BYTES ?? (ISSUE_SCALE ? 1024 ** 3 : 64 * 1024 ** 2));
const FILE_BYTES = 40 * 1024 * 1024;
/** What an unproven session reserves: two windows of one slow-start block (slowStartBlocks 1). */
const UNPROVEN_SESSION_BYTES = 2 * 65464;
/** Room for what is not session buffers: V8 heap growth, sockets, the event loop's garbage. */
const SLACK_BYTES = 160 * 1024 * 1024;

const CHILD_SOURCE = `
import { readFileSync } from 'node:fs';
import { pino } from 'pino';
import { startGateway } from './gateway/src/index.js';
const hwm = () => Number(/VmHWM:\\s+(\\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))[1]) * 1024;
const running = await startGateway({ config: JSON.parse(process.argv[2]), logger: pino({ level: 'silent' }) });
const send = (m) => process.send(m);
send({ type: 'ready', port: running.port, hwm: hwm() });
process.on('message', async (m) => {
  if (m.type === 'stats') send({ type: 'stats', counters: running.gateway.counters, rss: process.memoryUsage().rss, hwm: hwm(), active: running.gateway.activeSessions });
  if (m.type === 'close') { await running.close(0); process.exit(0); }
});
`;

interface ChildStats {
  counters: ServerCounters;
  rss: number;
  hwm: number;
  active: number;
}

let child: ChildProcess;
let port: number;
let baselineHwm: number;
let root: string;
let bundleDir: string;
const messages: ((m: unknown) => void)[] = [];

const nextMessage = <T>(): Promise<T> =>
  new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('the gateway child did not answer within 10 s')), 10_000);
    messages.push((m) => {
      clearTimeout(t);
      resolve(m as T);
    });
  });

async function stats(): Promise<ChildStats> {
  const reply = nextMessage<ChildStats>();
  child.send({ type: 'stats' });
  return reply;
}

beforeAll(async () => {
  // Inside node_modules so the bundle's bare imports (pino, prom-client...) resolve.
  bundleDir = join(REPO, 'node_modules/.cache/tftpfn-admission-test', String(process.pid));
  mkdirSync(bundleDir, { recursive: true });
  const outfile = join(bundleDir, 'gateway-child.mjs');
  await build({ stdin: { contents: CHILD_SOURCE, resolveDir: REPO, loader: 'ts', sourcefile: 'gateway-child.ts' }, bundle: true, platform: 'node', format: 'esm', packages: 'external', target: 'node20', outfile, logLevel: 'silent' });
  root = mkdtempSync(join(tmpdir(), 'tftpfn-admission-memory-'));
  writeFileSync(join(root, 'big.bin'), Buffer.alloc(FILE_BYTES, 0x5a));
  writeFileSync(join(root, 'small.txt'), 'still served\n');
  writeFileSync(join(root, 'mid.bin'), Buffer.alloc(4 * 1024 * 1024, 0x33));
  // The flood's unacknowledged sessions live about 4 s (2 s, then one retransmit), well past
  // the flood itself, so the budget is full while later requests arrive; then they give up.
  const config = { hosts: ['127.0.0.1'], port: 0, root, maxBufferBytes: BUDGET_BYTES, timeoutMs: 2000, maxTimeoutMs: 2000, firstPacketRetries: 1 };
  child = fork(outfile, [JSON.stringify(config)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  child.on('message', (m) => messages.shift()?.(m));
  const ready = await nextMessage<{ port: number; hwm: number }>();
  port = ready.port;
  baselineHwm = ready.hwm;
}, 30_000);

afterAll(async () => {
  if (child && child.exitCode === null) {
    const exited = new Promise((r) => child.once('exit', r));
    child.send({ type: 'close' });
    await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
    if (child.exitCode === null) child.kill('SIGKILL');
  }
  if (root) rmSync(root, { recursive: true, force: true });
  if (bundleDir) rmSync(bundleDir, { recursive: true, force: true });
});

describe('admission: the buffer budget', () => {
  it(`admission: ${REQUESTS} spoofable RRQs (blksize 65464 windowsize 64, 40 MiB file, ${ADDRESSES} addresses) reserve one slow-start window each within maxBufferBytes, RSS stays bounded, a proven client is still served`, async () => {
    const addresses = Array.from({ length: REQUESTS }, (_, i) => `127.0.0.${10 + (i % ADDRESSES)}`);
    const crowd = await Crowd.open(addresses);
    try {
      const requestBytes = crowd.rrqAll(port, 'big.bin', { blksize: '65464', windowsize: '64' });
      const poll = async (done: (s: ChildStats) => boolean, what: string): Promise<ChildStats> => {
        let s = await stats();
        const deadline = Date.now() + 15_000;
        while (!done(s)) {
          if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify({ started: s.counters.sessionsStarted, refusals: s.counters.refusalsByLimit, active: s.active })}`);
          await new Promise((r) => setTimeout(r, 50));
          s = await stats();
        }
        return s;
      };
      // Every flood request decided; the flood's sessions live on for a few seconds.
      const during = await poll((s) => s.counters.sessionsStarted + (s.counters.refusalsByLimit.buffers ?? 0) >= REQUESTS, 'every flood request decided');
      const c = during.counters;
      const started = c.sessionsStarted;
      const refused = REQUESTS - started;
      const reservedDuring = c.bufferBytesReserved;

      // Meanwhile a client asking the same large options proves itself and is served, unless
      // the flood really filled the budget (only when a run makes it small).
      const roomLeft = BUDGET_BYTES - reservedDuring >= 2 * 64 * 65464;
      const legit = roomLeft ? await get({ host: '127.0.0.1', port, path: 'mid.bin', localAddress: '127.0.1.7', blksize: 65464, windowsize: 64, timeoutMs: 1000, retries: 3 }) : undefined;

      const after = await poll((s) => s.active === 0, 'the flood sessions to give up');
      const growth = after.hwm - baselineHwm;
      console.log(
        `[admission figure] ${REQUESTS} RRQs of ${requestBytes} bytes from ${ADDRESSES} addresses, budget ${(BUDGET_BYTES / 2 ** 20).toFixed(0)} MiB: ` +
          `sessions ${started}, refused busy (buffers) ${refused}, reserved by the flood ${(reservedDuring / 2 ** 20).toFixed(1)} MiB, ` +
          `a proven client during the flood ${legit ? 'served' : 'not tried'}, reserved peak ${(after.counters.bufferBytesReservedPeak / 2 ** 20).toFixed(1)} MiB, ` +
          `peak RSS ${(after.hwm / 2 ** 20).toFixed(0)} MiB (baseline ${(baselineHwm / 2 ** 20).toFixed(0)} MiB, +${(growth / 2 ** 20).toFixed(0)} MiB), RSS after ${(after.rss / 2 ** 20).toFixed(0)} MiB`,
      );
      // Every session of the flood reserved one slow-start window: its peer never ACKed.
      expect(reservedDuring).toBe(started * UNPROVEN_SESSION_BYTES);
      expect(started).toBe(Math.min(REQUESTS, Math.floor(BUDGET_BYTES / UNPROVEN_SESSION_BYTES)));
      expect(after.counters.bufferBytesReservedPeak).toBeLessThanOrEqual(BUDGET_BYTES);
      // Any request beyond the budget was refused busy for the buffers, and counted.
      expect(c.refusalsByLimit.buffers ?? 0).toBe(refused);
      expect(c.refusedBusy).toBe(refused);
      if (legit) expect(legit.data!.length).toBe(4 * 1024 * 1024);
      if (process.env.ADMISSION_FLOOD_BUDGET_BYTES === undefined) expect(legit).toBeDefined();
      // Every reservation came back when its session ended.
      expect(after.counters.bufferBytesReserved).toBe(0);
      expect(growth).toBeLessThanOrEqual(Math.min(BUDGET_BYTES, REQUESTS * UNPROVEN_SESSION_BYTES) + 2 * 64 * 65464 + SLACK_BYTES);
      // The refused requests were told: ERROR 0 "server busy, try again later".
      await waitUntil(() => crowd.countWith((p) => p.op === 5 && p.code === 0 && p.message === 'server busy, try again later') === refused, 3000, 'ERROR 0 busy to every refused request');
    } finally {
      crowd.close();
    }
    // With the flood gone, the budget is free again and a client is served.
    const r = await get({ host: '127.0.0.1', port, path: 'small.txt', localAddress: '127.0.1.7', timeoutMs: 500, retries: 2 });
    expect(r.data!.toString()).toBe('still served\n');
  }, 60_000);
});
