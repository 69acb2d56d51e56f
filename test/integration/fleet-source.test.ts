/**
 * The fleet source with real gateways on loopback (issue 12): two gateways (127.0.0.1 and
 * 127.0.0.2) follow one control plane (the in-memory fake of test/unit/control/, shared in this
 * process), run real worker pools on real bundles, and answer real TFTP clients. A deploy, a
 * canary (each client on the side the pure pick names, for every request), a promote, a
 * rollback, a version that throws at import, and a restart with the control plane down (cached
 * versions, degraded /readyz, catch-up when it returns).
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import { describe, expect, test } from 'vitest';
import { get } from '../../client/index.js';
import { startGateway, type RunningGateway } from '../../gateway/src/index.js';
import { bundleFunction } from '../../gateway/src/runtime/bundle.js';
import { picksCanary } from '../../gateway/src/runtime/canary-pick.js';
import type { SessionRecord } from '../../gateway/src/stats/session-record.js';
import { FIXTURES } from '../helpers/functions.js';
import { eventually, scratch } from '../helpers/scratch.js';
import { FakeControlPlane } from '../unit/control/fake-control-plane.js';

const SOURCE = `import { text, type Handler } from 'tftpfn/sdk';
export const handle: Handler = (request, env) => text(\`__VERSION__ \${env.vars.SITE ?? '-'} \${env.secrets.TOKEN ?? '-'}\\n\`);
`;

async function bundle(version: string): Promise<string> {
  const src = join(FIXTURES, `.fleet-${version}-${process.pid}.ts`);
  writeFileSync(src, SOURCE.replace('__VERSION__', version));
  try {
    return Buffer.from((await bundleFunction(src)).code).toString('utf8');
  } finally {
    rmSync(src, { force: true });
  }
}

const { temp, defer } = scratch();
const running: RunningGateway[] = [];
defer(() => Promise.all(running.splice(0).map((g) => g.close(0))));

interface Gw {
  g: RunningGateway;
  host: string;
  records: SessionRecord[];
}

async function gateway(cp: FakeControlPlane, host: string, id: string, cacheDir: string): Promise<Gw> {
  const records: SessionRecord[] = [];
  const g = await startGateway({
    config: {
      hosts: [host],
      port: 0,
      root: temp('fleet-root-'),
      gatewayId: id,
      controlCacheDir: cacheDir,
      controlPollMs: 500,
      metricsPort: 0,
      // Seals the secrets kept in the disk cache (the fake control plane keeps its own in clear).
      secretsKey: 'ab'.repeat(32),
      routes: [{ match: 'hello/**', function: 'hello' }],
      functions: { hello: { poolSize: 1, isolation: 'thread' } },
    },
    controlPlane: cp,
    logger: pino({ level: process.env.TFTPFN_TEST_LOG ?? 'silent' }),
    onSession: (r) => records.push(r),
  });
  running.push(g);
  return { g, host, records };
}

async function fetchText(gw: Gw, path: string): Promise<string> {
  const r = await get({ host: gw.host, port: gw.g.port, path, timeoutMs: 300, retries: 5 });
  return r.data!.toString('utf8').trim();
}

/** The first word of every answer: the version that produced it. */
const versionOf = (body: string) => body.split(' ')[0];

describe('fleet source with real gateways', () => {
  test('deploy, canary, promote, rollback, a rejected version and a restart with the control plane down', { timeout: 120_000 }, async () => {
    const cp = new FakeControlPlane();
    const cacheB = temp('fleet-cache-b-');
    const a = await gateway(cp, '127.0.0.1', 'gw-a', temp('fleet-cache-a-'));
    let b = await gateway(cp, '127.0.0.2', 'gw-b', cacheB);

    // A route to a function never deployed: not ready, and the reason names it.
    expect(a.g.ready()).toEqual({ ready: false, reasons: ['function hello has no version loaded'] });
    const readyz = async (gw: Gw) => {
      const r = await fetch(`http://127.0.0.1:${gw.g.metricsPort}/readyz`);
      return `${r.status} ${await r.text()}`;
    };
    expect(await readyz(a)).toBe('503 not ready\n- function hello has no version loaded\n');

    // Deploy: both gateways serve it, with its settings and secrets, and acknowledge.
    const one = await cp.add('hello', await bundle('one'), { vars: { SITE: 'rack1' } });
    await cp.putSecret('hello', 'TOKEN', 'tok');
    const deployedAt = Date.now();
    await cp.setRollout('hello', { stable: one.id });
    for (const gw of [a, b]) expect(await eventually(async () => (await fetchText(gw, 'hello/x').catch(() => '')) === 'one rack1 tok', 10_000)).toBe(true);
    console.log(`fleet-source: deploy served by both gateways ${Date.now() - deployedAt} ms after setRollout`);
    expect(await eventually(() => ['gw-a', 'gw-b'].every((id) => cp.ackLog.some((k) => k.gateway === id && k.revision === 1 && k.ok)))).toBe(true);
    expect(a.g.ready()).toEqual({ ready: true, reasons: [] });
    expect(await readyz(a)).toBe('200 ready\n');

    // Canary at 30%: every client (a MAC in the path) lands where the pure pick says, every time, on both gateways.
    const two = await cp.add('hello', await bundle('two'), { vars: { SITE: 'rack1' } });
    await cp.setRollout('hello', { stable: one.id, canary: { version: two.id, percent: 30 } });
    expect(await eventually(() => ['gw-a', 'gw-b'].every((id) => cp.ackLog.some((k) => k.gateway === id && k.revision === 2 && k.ok)))).toBe(true);
    let onTwo = 0;
    const clients = 200;
    for (let i = 0; i < clients; i++) {
      const mac = `52-54-00-00-${(i >> 8).toString(16).padStart(2, '0')}-${(i & 255).toString(16).padStart(2, '0')}`;
      const want = picksCanary(`mac:${mac.replaceAll('-', ':')}`, 'hello', 30) ? 'two' : 'one';
      if (want === 'two') onTwo++;
      const path = `hello/grub.cfg-01-${mac}`;
      for (const gw of [a, b, a]) expect(versionOf(await fetchText(gw, path))).toBe(want);
      // Each session record names the version that answered.
      for (const [gw, n] of [[a, 2], [b, 1]] as const) {
        expect(await eventually(() => gw.records.filter((r) => r.file === path).length === n)).toBe(true);
        for (const r of gw.records.filter((r) => r.file === path)) expect(r.version).toBe(want === 'two' ? two.id : one.id);
      }
    }
    console.log(`fleet-source: canary 30% over ${clients} MACs: ${onTwo} on the canary (${((100 * onTwo) / clients).toFixed(1)}%)`);
    expect(onTwo / clients).toBeGreaterThan(0.2);
    expect(onTwo / clients).toBeLessThan(0.4);

    // Promote, then roll back: every client follows.
    await cp.setRollout('hello', { stable: two.id });
    for (const gw of [a, b]) expect(await eventually(async () => versionOf(await fetchText(gw, 'hello/01-52-54-00-00-00-01')) === 'two', 10_000)).toBe(true);
    const rolledAt = Date.now();
    await cp.setRollout('hello', { stable: one.id });
    for (const gw of [a, b]) expect(await eventually(async () => versionOf(await fetchText(gw, 'hello/01-52-54-00-00-00-01')) === 'one', 10_000)).toBe(true);
    console.log(`fleet-source: rollback served by both gateways ${Date.now() - rolledAt} ms after setRollout`);

    // A version that throws at import: both reject it, say why, and go on serving the previous one.
    const broken = await cp.add('hello', readFileSync(join(FIXTURES, 'throws-at-import.ts'), 'utf8').replace(/^\/\/.*\n/, ''));
    const rev = (await cp.setRollout('hello', { stable: broken.id })).revision;
    expect(await eventually(() => ['gw-a', 'gw-b'].every((id) => cp.ackLog.some((k) => k.gateway === id && k.revision === rev)), 10_000)).toBe(true);
    for (const id of ['gw-a', 'gw-b']) {
      const ack = cp.ackLog.find((k) => k.gateway === id && k.revision === rev)!;
      expect(ack.ok).toBe(false);
      expect(ack.error).toMatch(/cannot start: missing configuration/);
      expect(ack.serving).toEqual([one.id]);
    }
    expect(await fetchText(a, 'hello/x')).toBe('one rack1 tok');
    await cp.setRollout('hello', { stable: one.id });

    // Restart B while the control plane is down: it serves what it cached, and says so.
    await b.g.close(0);
    running.splice(running.indexOf(b.g), 1);
    cp.down = true;
    b = await gateway(cp, '127.0.0.2', 'gw-b', cacheB);
    expect(b.g.ready()).toEqual({ ready: true, reasons: ['degraded: control plane unreachable, serving cached versions'] });
    expect((await readyz(b)).startsWith('200 ready\n')).toBe(true);
    expect(await fetchText(b, 'hello/x')).toBe('one rack1 tok');
    // A deploy it cannot hear; then the control plane returns and B catches up.
    cp.down = false;
    const three = await cp.add('hello', await bundle('three'), { vars: { SITE: 'rack1' } });
    cp.down = true;
    await cp.setRollout('hello', { stable: three.id }).catch(() => {});
    cp.down = false;
    await cp.setRollout('hello', { stable: three.id });
    expect(await eventually(async () => versionOf(await fetchText(b, 'hello/x')) === 'three', 15_000)).toBe(true);
    expect(await eventually(() => b.g.ready().reasons.length === 0, 10_000)).toBe(true);
    expect(b.g.ready().ready).toBe(true);
  });
});
