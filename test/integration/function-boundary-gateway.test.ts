/**
 * Issue 9 §3 behind a real gateway: while a hostile function kills or stops its own process,
 * holds 2 GiB of ArrayBuffers with heapMb 64, or logs 1,000,000 lines, a small file keeps being
 * served on loopback, and the gateway's memory stays flat. The figures (latency, RSS) are
 * printed for docs/RELIABILITY.md.
 */
import { existsSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createGateway, type RunningGateway } from '../../gateway/src/index.js';
import { get } from '../../client/index.js';
import { captureLog, FIXTURES, type CapturedLog } from '../helpers/functions.js';

let gw: RunningGateway;
let log: CapturedLog;
const SMALL = Buffer.alloc(1024, 7);

const rssMiB = () => process.memoryUsage().rss / 2 ** 20;

async function fetchSmall(): Promise<number> {
  const t0 = performance.now();
  const r = await get({ host: '127.0.0.1', port: gw.port, path: 'small.bin', timeoutMs: 1000, retries: 3 });
  expect(r.data?.equals(SMALL)).toBe(true);
  return performance.now() - t0;
}

/** Fetches the small file back to back until `attack` settles; returns the slowest fetch (ms) and the count. */
async function whileAttacking(attack: Promise<unknown>): Promise<{ maxMs: number; fetches: number }> {
  let done = false;
  void attack.finally(() => (done = true)).catch(() => {});
  let maxMs = 0;
  let fetches = 0;
  for (let i = 0; i < 10_000 && (!done || fetches < 3); i++) {
    maxMs = Math.max(maxMs, await fetchSmall());
    fetches++;
  }
  await attack.catch(() => {});
  return { maxMs, fetches };
}

const attack = (path: string) => get({ host: '127.0.0.1', port: gw.port, path: `attack/${path}`, timeoutMs: 1000, retries: 8 });

beforeAll(async () => {
  const root = mkdtempSync(join(tmpdir(), 'tftpfn-boundary-'));
  writeFileSync(join(root, 'small.bin'), SMALL);
  log = captureLog('info');
  gw = await createGateway({
    hosts: ['127.0.0.1'],
    port: 0,
    root,
    functions: { hostile: { entry: join(FIXTURES, 'hostile.ts'), poolSize: 2, heapMb: 64, timeoutMs: 1500 } },
    routes: [{ match: 'attack/**', function: 'hostile', stripPrefix: true }],
    defaultRoute: { folder: root },
    logger: log.logger,
  });
  for (let i = 0; i < 20; i++) await fetchSmall(); // warm up
});

afterAll(async () => {
  await gw?.close(0);
});

describe('a hostile function behind the gateway', () => {
  test('baseline: the slowest 1 KiB fetch over half a second without an attack', async () => {
    const r = await whileAttacking(new Promise((resolve) => setTimeout(resolve, 500)));
    console.log(`[figures] baseline: slowest 1 KiB fetch ${r.maxMs.toFixed(1)} ms over ${r.fetches}`);
    expect(r.fetches).toBeGreaterThan(3);
  });

  test('SIGKILL and SIGSTOP of its own process fail its transfer only; the gateway keeps serving', async () => {
    const killed = await whileAttacking(expect(attack('kill-self')).rejects.toThrow());
    const stopped = await whileAttacking(expect(attack('stop-self')).rejects.toThrow());
    console.log(`[figures] SIGKILL: slowest concurrent 1 KiB fetch ${killed.maxMs.toFixed(1)} ms over ${killed.fetches}; SIGSTOP: ${stopped.maxMs.toFixed(1)} ms over ${stopped.fetches}`);
    expect(killed.maxMs).toBeLessThan(1000);
    expect(stopped.maxMs).toBeLessThan(1000);
    expect(log.text()).toMatch(/killed by SIGKILL/);
    expect(log.text()).toMatch(/was stuck/);
    await fetchSmall();
  });

  test('2 GiB of ArrayBuffers with heapMb 64: stopped at the memory limit, gateway RSS flat, other transfers served', async () => {
    const before = rssMiB();
    const r = await whileAttacking(expect(attack('hold-arraybuffers')).rejects.toThrow());
    const grew = rssMiB() - before;
    console.log(`[figures] 2 GiB ArrayBuffers: gateway RSS +${grew.toFixed(1)} MiB, slowest concurrent 1 KiB fetch ${r.maxMs.toFixed(1)} ms over ${r.fetches}`);
    expect(grew).toBeLessThan(64);
    expect(r.maxMs).toBeLessThan(1000);
    expect(log.text()).toMatch(/Array buffer allocation failed|memory limit/);
  });

  test('1,000,000 log lines from one invocation: at most 1000 logged, one drop report, no stall, RSS flat', async () => {
    const before = rssMiB();
    const linesBefore = log.lines.length;
    const flood = attack('log-flood');
    const r = await whileAttacking(flood);
    expect((await flood).data?.toString()).toBe('logged 1000000');
    const grew = rssMiB() - before;
    const fresh = log.lines.slice(linesBefore);
    const logged = fresh.filter((l) => l.event === 'functionLog').length;
    const report = fresh.find((l) => l.event === 'functionLogDropped');
    console.log(`[figures] 1e6 log lines: ${logged} logged, report "${String(report?.msg)}", gateway RSS +${grew.toFixed(1)} MiB, slowest concurrent 1 KiB fetch ${r.maxMs.toFixed(1)} ms over ${r.fetches}`);
    expect(logged).toBeLessThanOrEqual(1000);
    expect(report?.msg).toBe('log lines dropped: 999000');
    expect(grew).toBeLessThan(64);
    expect(r.maxMs).toBeLessThan(500);
  });

  test('closing the gateway removes its sandbox folders', async () => {
    const mine = () => readdirSync(tmpdir()).filter((n) => n.startsWith(`tftpfn-functions-${process.pid}-`));
    expect(mine().length).toBeGreaterThan(0);
    await gw.close(0);
    expect(mine()).toEqual([]);
  });
});
