/**
 * Hot reload through the deploy folder: new versions swap in without a gap, transfers pinned
 * to the old version finish on it, a broken version is rejected while the previous serves.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { parseConfig } from '../../../gateway/src/config/load.js';
import type { SessionTags } from '../../../gateway/src/handlers/request.js';
import { bundleFunction } from '../../../gateway/src/runtime/bundle.js';
import { DeployStore } from '../../../gateway/src/runtime/deploy-store.js';
import { FunctionRuntime, type ReloadEvent } from '../../../gateway/src/runtime/function-runtime.js';
import type { ByteReader } from '../../../gateway/src/sources/types.js';
import { captureLog, eventually, FIXTURES, tftpRequest } from '../../helpers/functions.js';

const runtimes: FunctionRuntime[] = [];
afterEach(async () => {
  await Promise.all(runtimes.splice(0).map((r) => r.close(1000)));
});

const request = tftpRequest;

async function versionedBundle(version: string) {
  const src = join(FIXTURES, `.versioned-${version}-${process.pid}.ts`);
  const { readFileSync, rmSync } = await import('node:fs');
  writeFileSync(src, readFileSync(join(FIXTURES, 'versioned.ts'), 'utf8').replace('__VERSION__', version));
  try {
    return await bundleFunction(src);
  } finally {
    rmSync(src, { force: true });
  }
}

async function readAll(reader: ByteReader): Promise<string> {
  const parts: Uint8Array[] = [];
  for (let c = await reader.read(65536); c !== null; c = await reader.read(65536)) parts.push(c);
  await reader.close();
  return Buffer.concat(parts).toString();
}

async function setup() {
  const deployDir = mkdtempSync(join(tmpdir(), 'tftpfn-deploy-'));
  const root = mkdtempSync(join(tmpdir(), 'tftpfn-root-'));
  const store = new DeployStore(deployDir);
  const events: ReloadEvent[] = [];
  const log = captureLog('info');
  const config = parseConfig({ deployDir, root, reloadPollMs: 50, functions: { versioned: { poolSize: 1 } } });
  return { store, events, log, config };
}

async function serve(handlerOf: () => ReturnType<FunctionRuntime['handler']>, path: string) {
  const tags: SessionTags = {};
  const opened = await handlerOf()!.openRead(request(path), tags);
  return { body: await readAll(opened.reader), tags };
}

describe('hot reload from the deploy folder', () => {
  test('a new version serves new requests; a broken one is rejected and the previous keeps serving', async () => {
    const { store, events, log, config } = await setup();
    await store.publish('versioned', await versionedBundle('one'));
    const rt = await FunctionRuntime.start({ config, log: log.logger, onReload: (e) => events.push(e) });
    runtimes.push(rt);
    const v1 = (await store.current('versioned'))!.version;
    expect(rt.status()).toEqual([{ name: 'versioned', source: 'deploy', version: v1, workers: 1, inflight: 0, draining: 0, totals: { invocations: 0, failures: 0, timeouts: 0, crashes: 0, retries: 0, restarts: 0 } }]);
    const first = await serve(() => rt.handler('versioned'), 'x');
    expect(first.body).toBe('one\n');
    expect(first.tags).toMatchObject({ function: 'versioned', version: v1 });

    const { deployed: d2 } = await store.publish('versioned', await versionedBundle('two'));
    expect(await eventually(() => rt.status()[0].version === d2.version)).toBe(true);
    expect((await serve(() => rt.handler('versioned'), 'x')).body).toBe('two\n');

    // A bundle that throws at import: deployed, rejected, and version two goes on serving.
    const broken = await bundleFunction(join(FIXTURES, 'throws-at-import.ts'));
    const { deployed: bad } = await store.publish('versioned', broken);
    expect(await eventually(() => events.some((e) => e.version === bad.version))).toBe(true);
    const rejected = events.find((e) => e.version === bad.version)!;
    expect(rejected.ok).toBe(false);
    expect(rejected.error).toMatch(/cannot start: missing configuration/);
    expect(rejected.previous).toBe(d2.version);
    expect(log.lines.find((l) => l.event === 'functionRejected')?.msg).toMatch(/failed to load; .* keeps serving/);
    expect((await serve(() => rt.handler('versioned'), 'x')).body).toBe('two\n');
    // It is not retried on every poll.
    await new Promise((r) => setTimeout(r, 300));
    expect(events.filter((e) => e.version === bad.version)).toHaveLength(1);

    // Rolling back is a deploy like any other.
    await store.activate('versioned', v1);
    expect(await eventually(() => rt.status()[0].version === v1)).toBe(true);
    expect((await serve(() => rt.handler('versioned'), 'x')).body).toBe('one\n');
    // Counters carry over reloads: four invocations over three pools (v1, v2, v1 again).
    expect(await eventually(() => rt.status()[0].totals.invocations === 4)).toBe(true);
  });

  test('a stream started on the old version finishes on it; the old pool retires after it', async () => {
    const { store, log, config } = await setup();
    await store.publish('versioned', await versionedBundle('old'));
    const rt = await FunctionRuntime.start({ config, log: log.logger });
    runtimes.push(rt);
    const tags: SessionTags = {};
    const opened = await rt.handler('versioned')!.openRead(request('blob-4000000'), tags);
    const firstChunk = await opened.reader.read(65536);
    expect(Buffer.from(firstChunk!).toString().startsWith('old\n')).toBe(true);

    const { deployed } = await store.publish('versioned', await versionedBundle('new'));
    expect(await eventually(() => rt.status()[0].version === deployed.version)).toBe(true);
    expect(rt.status()[0].draining).toBe(1);
    expect((await serve(() => rt.handler('versioned'), 'y')).body).toBe('new\n');

    const rest = await readAll(opened.reader);
    const all = Buffer.from(firstChunk!).toString() + rest;
    expect(all.length).toBe(4000000 - (4000000 % 4));
    expect(new Set(all.split('\n').filter(Boolean))).toEqual(new Set(['old']));
    expect(await eventually(() => rt.status()[0].draining === 0)).toBe(true);
    expect(log.lines.some((l) => l.event === 'functionRetired')).toBe(true);
  });

  test('a burst of deploys while one loads collapses into loading the newest', async () => {
    const { store, events, log, config } = await setup();
    await store.publish('versioned', await versionedBundle('v0'));
    const rt = await FunctionRuntime.start({ config, log: log.logger, onReload: (e) => events.push(e) });
    runtimes.push(rt);
    const bundles = await Promise.all(['b1', 'b2', 'b3', 'b4', 'b5'].map(versionedBundle));
    for (const b of bundles) await store.publish('versioned', b);
    const last = (await store.current('versioned'))!.version;
    expect(await eventually(() => rt.status()[0].version === last)).toBe(true);
    expect((await serve(() => rt.handler('versioned'), 'z')).body).toBe('b5\n');
    // Five deploys, far fewer loads: the intermediate versions were skipped.
    expect(events.filter((e) => e.ok).length).toBeLessThan(5);
  });

  test('a function deployed after start is discovered', async () => {
    const { store, log, config } = await setup();
    const rt = await FunctionRuntime.start({ config, log: log.logger });
    runtimes.push(rt);
    expect(rt.handler('versioned')).toBeUndefined();
    await store.publish('versioned', await versionedBundle('late'));
    expect(await eventually(() => rt.status()[0]?.version !== undefined)).toBe(true);
    expect((await serve(() => rt.handler('versioned'), 'x')).body).toBe('late\n');
  });
});

describe('entry functions', () => {
  test('an entry is bundled at start and rebuilt on demand; a broken rebuild keeps the old one', async () => {
    const dir = mkdtempSync(join(FIXTURES, '.entry-'));
    const entry = join(dir, 'fn.ts');
    writeFileSync(entry, "import { text } from 'tftpfn/sdk';\nexport const handle = () => text('first\\n');\n");
    const log = captureLog('info');
    const config = parseConfig({ root: dir, functions: { dev: { entry, poolSize: 1 } } });
    const rt = await FunctionRuntime.start({ config, log: log.logger });
    runtimes.push(rt);
    expect((await serve(() => rt.handler('dev'), 'a')).body).toBe('first\n');
    writeFileSync(entry, "import { text } from 'tftpfn/sdk';\nexport const handle = () => text('second\\n');\n");
    await rt.rebuild('dev');
    expect((await serve(() => rt.handler('dev'), 'a')).body).toBe('second\n');
    writeFileSync(entry, "import { text } from 'tftpfn/sdk';\nexport const handle = () => text('third\\n'\n");
    await rt.rebuild('dev');
    expect(log.lines.some((l) => l.event === 'functionSourceError')).toBe(true);
    expect((await serve(() => rt.handler('dev'), 'a')).body).toBe('second\n');
    const { rmSync } = await import('node:fs');
    rmSync(dir, { recursive: true, force: true });
  });

  test('an entry that fails to build fails start, naming the file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tftpfn-entry-'));
    const entry = join(dir, 'broken.ts');
    writeFileSync(entry, 'export const handle = (;\n');
    const config = parseConfig({ root: dir, functions: { broken: { entry } } });
    const e = await FunctionRuntime.start({ config, log: captureLog().logger }).then(() => undefined, (err: unknown) => err);
    expect((e as Error).message).toMatch(/function "broken" .*broken\.ts.* failed to load: .*broken\.ts:1:/s);
  });
});
