/**
 * Hot reload under load: transfers run without pause (small files and multi-megabyte
 * streams) while the function is redeployed 20 times. No transfer may fail, and every
 * response must come entirely from one version — the one its session record names.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { pino } from 'pino';
import { createGateway, type ReloadEvent, type RunningGateway, type SessionRecord } from '../../gateway/src/index.js';
import { get } from '../../client/index.js';
import { bundleFunction, type BuiltBundle } from '../../gateway/src/runtime/bundle.js';
import { DeployStore } from '../../gateway/src/runtime/deploy-store.js';
import { FIXTURES } from '../helpers/functions.js';

const SWAPS = 20;
const LOOPS = 6;
let gw: RunningGateway | undefined;

afterAll(async () => {
  await gw?.close(0);
});

async function versionedBundle(name: string): Promise<BuiltBundle> {
  const src = join(FIXTURES, `.versioned-${name}-${process.pid}.ts`);
  writeFileSync(src, readFileSync(join(FIXTURES, 'versioned.ts'), 'utf8').replace('__VERSION__', name));
  try {
    return await bundleFunction(src);
  } finally {
    rmSync(src, { force: true });
  }
}

test(`${SWAPS} deploys under continuous load: no failed transfer, every response from one version`, async () => {
  const deployDir = mkdtempSync(join(tmpdir(), 'tftpfn-reload-'));
  const store = new DeployStore(deployDir);
  const bundles = await Promise.all(Array.from({ length: SWAPS + 1 }, (_, i) => versionedBundle(`gen${i}`)));
  const deployIdToName = new Map<string, string>();
  const first = await store.publish('versioned', bundles[0]);
  deployIdToName.set(first.deployed.version, 'gen0');

  const records: SessionRecord[] = [];
  const reloads: ReloadEvent[] = [];
  const logLines: string[] = [];
  gw = await createGateway({
    hosts: ['127.0.0.1'],
    port: 0,
    root: deployDir,
    deployDir,
    reloadPollMs: 50,
    functions: { versioned: { poolSize: 2 } },
    defaultRoute: { function: 'versioned' },
    logger: pino({ level: 'warn' }, { write: (line: string) => void logLines.push(line) }),
    onSession: (r) => records.push(r),
    onReload: (e) => reloads.push(e),
  });
  const port = gw.port;

  let stop = false;
  const failures: string[] = [];
  const seen: { file: string; version: string; bytes: number }[] = [];
  let n = 0;
  const loop = async (k: number) => {
    // Bounded: the loops end when the swaps are done, or after 2000 transfers each at most.
    for (let i = 0; !stop && i < 2000; i++) {
      const big = (i + k) % 3 === 0;
      const path = big ? `blob-${2_000_000 + k * 1000 + i}` : `small-${k}-${i}`;
      try {
        const r = await get({ host: '127.0.0.1', port, path, blksize: 1468, windowsize: big ? 8 : 1, timeoutMs: 1000, retries: 5 });
        const lines = new Set(Buffer.from(r.data!).toString().split('\n').filter(Boolean));
        if (lines.size !== 1) failures.push(`${path}: mixed versions ${[...lines].join(',')}`);
        seen.push({ file: path, version: [...lines][0], bytes: r.data!.length });
        n++;
      } catch (e) {
        failures.push(`${path}: ${(e as Error).message}`);
      }
    }
  };
  const loops = Array.from({ length: LOOPS }, (_, k) => loop(k));

  for (let s = 1; s <= SWAPS; s++) {
    const { deployed } = await store.publish('versioned', bundles[s]);
    deployIdToName.set(deployed.version, `gen${s}`);
    // Generous: on a loaded 2-core CI box, worker start-up competes with six transfer loops.
    const end = Date.now() + 30_000;
    while (gw.functions!.status()[0].version !== deployed.version && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
    expect(gw.functions!.status()[0].version, `swap ${s}: reloads ${JSON.stringify(reloads.slice(-3))}\nlog: ${logLines.slice(-5).join('')}`).toBe(deployed.version);
    // Let a few transfers start on this version before the next deploy.
    await new Promise((r) => setTimeout(r, 150));
  }
  stop = true;
  await Promise.all(loops);

  expect(failures).toEqual([]);
  expect(n).toBeGreaterThan(SWAPS * 5);
  // Transfers really did span versions, big ones included.
  const versionsSeen = new Set(seen.map((s) => s.version));
  expect(versionsSeen.size).toBeGreaterThanOrEqual(SWAPS / 2);
  expect(seen.some((s) => s.bytes > 1_000_000)).toBe(true);
  // The record of each session names the version whose bytes it sent.
  const end = Date.now() + 5000;
  while (records.length < seen.length && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
  for (const s of seen) {
    const rec = records.find((r) => r.file === s.file)!;
    expect(rec.outcome).toBe('ok');
    expect(deployIdToName.get(rec.version!)).toBe(s.version);
  }
  expect(records.filter((r) => r.outcome !== 'ok')).toEqual([]);
  // Old versions are retired once their transfers end.
  const drained = Date.now() + 5000;
  while (gw.functions!.status()[0].draining > 0 && Date.now() < drained) await new Promise((r) => setTimeout(r, 20));
  expect(gw.functions!.status()[0].draining).toBe(0);
});
