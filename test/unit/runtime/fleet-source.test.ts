/**
 * The fleet source (runtime/fleet-source.ts; issue 12) against an in-memory control plane
 * (test/unit/control/fake-control-plane.ts), with the real reload pipeline (Reloader,
 * Generations), the real disk cache in a temp folder, and a loader that only reads the bundle
 * file: a bundle whose code holds `throw` fails to load, as a version that throws at import.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { Generations } from '../../../gateway/src/runtime/generations.js';
import { Reloader } from '../../../gateway/src/runtime/reload.js';
import type { VersionSource, VersionSpec } from '../../../gateway/src/runtime/version-sources.js';
import type { GatewayPresence } from '../../../gateway/src/control/control-plane.js';
import { FleetCache } from '../../../gateway/src/runtime/fleet-cache.js';
import { DEGRADED_CACHED, FETCH_RETRY_MS, FleetSource, type FleetSlots } from '../../../gateway/src/runtime/fleet-source.js';
import { FakeInvoker } from '../../helpers/fake-invoker.js';
import { captureLog, eventually } from '../../helpers/functions.js';
import { FakeControlPlane } from '../control/fake-control-plane.js';

const KEY = Buffer.alloc(32, 7);
const dirs: string[] = [];
const fleets: FleetSource[] = [];
afterEach(async () => {
  for (const f of fleets.splice(0)) await f.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function cacheDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'fleet-source-test-'));
  dirs.push(d);
  return d;
}

/** Slots as the function runtime keeps them, with a loader that reads the bundle and records what it was given. */
function slots() {
  const map = new Map<string, { gens: Generations; reloader: Reloader }>();
  const loads: { name: string; spec: VersionSpec; code: string }[] = [];
  const fleetSlots: FleetSlots = {
    ensure(name: string, source: VersionSource) {
      if (map.has(name)) return false;
      const gens = new Generations(name);
      const load = async (spec: VersionSpec) => {
        const code = readFileSync(spec.bundlePath, 'utf8');
        loads.push({ name, spec, code });
        if (code.includes('throw')) throw new Error(`${name}@${spec.version}: SyntaxError: boom at import`);
        return new FakeInvoker(spec.version);
      };
      map.set(name, { gens, reloader: new Reloader(name, source, load, gens, () => {}) });
      return true;
    },
    reload: (name) => map.get(name)?.reloader.reload() ?? Promise.resolve(),
    serving: (name) => ({ versions: map.get(name)?.gens.serving() ?? [], keys: map.get(name)?.gens.servingKeys() ?? [], canaryPercent: map.get(name)?.gens.canary?.percent }),
    lastError: (name) => map.get(name)?.reloader.lastError,
  };
  return { fleetSlots, map, loads, serving: (name: string) => map.get(name)?.gens.serving() ?? [] };
}

function fleet(
  cp: FakeControlPlane,
  dir: string,
  extra: {
    names?: string[];
    heartbeatMs?: number;
    pollMs?: number;
    gateway?: string;
    now?: () => Date;
    every?: (periodMs: number, tick: () => void) => () => void;
    leaveTimeoutMs?: number;
  } = {},
) {
  const log = captureLog();
  const f = new FleetSource({
    controlPlane: cp,
    cache: new FleetCache(dir, KEY),
    gatewayId: extra.gateway ?? 'gw-1',
    log: log.logger,
    pollMs: extra.pollMs ?? 60_000,
    heartbeatMs: extra.heartbeatMs ?? 60_000,
    names: extra.names ?? [],
    callTimeoutMs: 1000,
    now: extra.now,
    every: extra.every,
    leaveTimeoutMs: extra.leaveTimeoutMs,
  });
  fleets.push(f);
  return { f, log };
}

describe('fleet source', () => {
  test('a rollout change is loaded with its settings and secrets, then acknowledged', async () => {
    const cp = new FakeControlPlane();
    const v1 = await cp.add('grub', 'export const handle = () => "one";', { vars: { SITE: 'a' }, poolSize: 3 });
    await cp.setRollout('grub', { stable: v1.id });
    await cp.putSecret('grub', 'TOKEN', 's3cret');
    const s = slots();
    const { f } = fleet(cp, cacheDir());
    await f.start(s.fleetSlots);
    expect(s.serving('grub')).toEqual([v1.id]);
    expect(s.loads[0].spec.settings).toEqual({ vars: { SITE: 'a' }, poolSize: 3 });
    expect(s.loads[0].spec.secrets).toEqual({ TOKEN: 's3cret' });
    expect(cp.ackLog).toEqual([expect.objectContaining({ gateway: 'gw-1', function: 'grub', revision: 1, serving: [v1.id], ok: true })]);

    const v2 = await cp.add('grub', 'export const handle = () => "two";', { timeoutMs: 900 });
    await cp.setRollout('grub', { stable: v2.id }); // announced: the watch reloads at once
    expect(await eventually(() => cp.ackLog.length === 2)).toBe(true);
    expect(s.serving('grub')).toEqual([v2.id]);
    expect(cp.ackLog[1]).toMatchObject({ revision: 2, serving: [v2.id], ok: true });
    expect(cp.ackLog[1].error).toBeUndefined();
    expect(s.loads[1].spec.settings).toEqual({ timeoutMs: 900 });
  });

  test('a version that throws at import is acknowledged ok:false with the reason, and the previous one keeps serving', async () => {
    const cp = new FakeControlPlane();
    const good = await cp.add('ipxe', 'export const handle = () => "ok";');
    await cp.setRollout('ipxe', { stable: good.id });
    const s = slots();
    const { f } = fleet(cp, cacheDir());
    await f.start(s.fleetSlots);
    const bad = await cp.add('ipxe', 'throw new Error("at import");');
    await cp.setRollout('ipxe', { stable: bad.id });
    expect(await eventually(() => cp.ackLog.length === 2)).toBe(true);
    expect(cp.ackLog[1]).toMatchObject({ revision: 2, serving: [good.id], ok: false, error: `ipxe@${bad.id}: SyntaxError: boom at import` });
    expect(s.serving('ipxe')).toEqual([good.id]);
    // Polls do not load it again, nor ack again.
    await f.poll();
    await f.poll();
    expect(s.loads.filter((l) => l.spec.version === bad.id)).toHaveLength(1);
    expect(cp.ackLog).toHaveLength(2);
  });

  test('a bundle whose bytes do not match its sha256 is rejected before it is cached or loaded', async () => {
    const cp = new FakeControlPlane();
    const good = await cp.add('hello', 'export const handle = () => "a";');
    await cp.setRollout('hello', { stable: good.id });
    const dir = cacheDir();
    const s = slots();
    let nowMs = Date.UTC(2026, 0, 1);
    const { f } = fleet(cp, dir, { now: () => new Date(nowMs) });
    await f.start(s.fleetSlots);
    const next = await cp.add('hello', 'export const handle = () => "b";');
    cp.tamper(next.sha256);
    await cp.setRollout('hello', { stable: next.id });
    expect(await eventually(() => cp.ackLog.length === 2)).toBe(true);
    expect(cp.ackLog[1].ok).toBe(false);
    expect(cp.ackLog[1].error).toMatch(/sha256 mismatch/);
    expect(cp.ackLog[1].serving).toEqual([good.id]);
    expect(s.loads.map((l) => l.spec.version)).toEqual([good.id]);
    expect(await new FleetCache(dir, KEY).hasBundle('hello', next.sha256)).toBe(false);
    // Not downloaded again on every poll: once per FETCH_RETRY_MS while the previous one serves.
    const fetches = cp.fetches;
    await f.poll();
    await f.poll();
    expect(cp.fetches).toBe(fetches);
    expect(cp.ackLog).toHaveLength(2);
    nowMs += FETCH_RETRY_MS;
    await f.poll();
    expect(cp.fetches).toBe(fetches + 1);
    expect(s.serving('hello')).toEqual([good.id]);
    expect(cp.ackLog).toHaveLength(2);
  });

  test('a restart with the control plane down serves the cached versions, says so once, and catches up when it returns', async () => {
    const cp = new FakeControlPlane();
    const v1 = await cp.add('grub', 'export const handle = () => "one";', { vars: { A: '1' } });
    await cp.setRollout('grub', { stable: v1.id });
    await cp.putSecret('grub', 'PASSWORD', 'hunter2');
    const dir = cacheDir();
    const first = fleet(cp, dir);
    await first.f.start(slots().fleetSlots);
    await first.f.close();
    // The secret is on disk only sealed.
    expect(readFileSync(join(dir, 'grub', 'secrets.enc')).includes(Buffer.from('hunter2'))).toBe(false);

    cp.down = true;
    const s = slots();
    const { f, log } = fleet(cp, dir, { heartbeatMs: 30, gateway: 'gw-2' });
    await f.start(s.fleetSlots);
    expect(s.serving('grub')).toEqual([v1.id]);
    expect(s.loads[0].spec.settings).toEqual({ vars: { A: '1' } });
    expect(s.loads[0].spec.secrets).toEqual({ PASSWORD: 'hunter2' });
    expect(f.degraded()).toBe(DEGRADED_CACHED);
    const said = log.lines.filter((l) => l.event === 'controlPlaneDegraded');
    expect(said).toHaveLength(1);
    expect(String(said[0].msg)).toContain(`serving the versions cached in ${dir}: grub@${v1.id}`);

    // Deployed while this gateway could not hear it: the announcement is lost.
    cp.down = false;
    const v2 = await cp.add('grub', 'export const handle = () => "two";');
    cp.down = true;
    await cp.setRollout('grub', { stable: v2.id }).catch(() => {});
    cp.down = false;
    await cp.setRollout('grub', { stable: v2.id });
    // The heartbeat finds the control plane back and every rollout is read again.
    expect(await eventually(() => s.serving('grub')[0] === v2.id && f.degraded() === undefined)).toBe(true);
    expect(await eventually(() => cp.ackLog.some((a) => a.gateway === 'gw-2' && a.ok && a.serving[0] === v2.id))).toBe(true);
  });

  test('a start with the control plane down and nothing cached serves nothing and names the state', async () => {
    const cp = new FakeControlPlane();
    cp.down = true;
    const s = slots();
    const { f, log } = fleet(cp, cacheDir(), { names: ['grub'] });
    await f.start(s.fleetSlots);
    expect(s.serving('grub')).toEqual([]);
    expect(f.degraded()).toBe('control plane unreachable');
    expect(log.lines.filter((l) => l.event === 'controlPlaneDegraded')).toHaveLength(1);
  });

  test('a Redis outage after start: the versions serving go on, and the reconnect re-reads the rollouts without waiting for the poll', async () => {
    const cp = new FakeControlPlane();
    const v1 = await cp.add('f', 'export const handle = () => 1;');
    await cp.setRollout('f', { stable: v1.id });
    const s = slots();
    const { f } = fleet(cp, cacheDir(), { heartbeatMs: 30, pollMs: 3_600_000 });
    await f.start(s.fleetSlots);
    cp.down = true;
    expect(await eventually(() => f.degraded() === DEGRADED_CACHED)).toBe(true);
    expect(s.serving('f')).toEqual([v1.id]);
    cp.down = false;
    const v2 = await cp.add('f', 'export const handle = () => 2;');
    cp.down = true;
    await cp.setRollout('f', { stable: v2.id }).catch(() => {});
    cp.down = false;
    // Written straight to the store, unannounced: only a re-read finds it.
    (cp as unknown as { rollouts: Map<string, unknown> }).rollouts.set('f', { stable: v2.id, revision: 2, updatedAt: new Date().toISOString() });
    expect(await eventually(() => s.serving('f')[0] === v2.id)).toBe(true);
    expect(f.degraded()).toBeUndefined();
  });

  test('a canary: both versions load, the ack names both, and a promote reuses the canary', async () => {
    const cp = new FakeControlPlane();
    const a = await cp.add('grub', 'export const handle = () => "a";');
    const b = await cp.add('grub', 'export const handle = () => "b";');
    await cp.setRollout('grub', { stable: a.id });
    const s = slots();
    const { f } = fleet(cp, cacheDir());
    await f.start(s.fleetSlots);
    await cp.setRollout('grub', { stable: a.id, canary: { version: b.id, percent: 30 } });
    expect(await eventually(() => cp.ackLog.length === 2)).toBe(true);
    expect(cp.ackLog[1]).toMatchObject({ revision: 2, serving: [a.id, b.id], ok: true });
    expect(s.map.get('grub')!.gens.canary?.percent).toBe(30);
    await cp.setRollout('grub', { stable: b.id });
    expect(await eventually(() => cp.ackLog.length === 3)).toBe(true);
    expect(cp.ackLog[2]).toMatchObject({ revision: 3, serving: [b.id], ok: true });
    expect(s.loads.map((l) => l.spec.version)).toEqual([a.id, b.id]);
  });

  test('functions the routes name are followed before any deploy, and a deploy reaches them', async () => {
    const cp = new FakeControlPlane();
    const s = slots();
    const { f } = fleet(cp, cacheDir(), { names: ['later'] });
    await f.start(s.fleetSlots);
    expect(s.map.has('later')).toBe(true);
    expect(s.serving('later')).toEqual([]);
    const v = await cp.add('later', 'export const handle = () => "x";');
    await cp.setRollout('later', { stable: v.id });
    expect(await eventually(() => s.serving('later')[0] === v.id)).toBe(true);
  });

  test('a heartbeat says the gateway is live', async () => {
    const cp = new FakeControlPlane();
    const { f } = fleet(cp, cacheDir(), { heartbeatMs: 20, gateway: 'gw-9' });
    await f.start(slots().fleetSlots);
    expect(await eventually(() => cp.heartbeats.length >= 2)).toBe(true);
    expect(cp.heartbeats[0]).toMatchObject({ gateway: 'gw-9' });
    expect(cp.heartbeats[0].degraded).toBeUndefined();
  });
});

/** A clock the test moves: the repeating timers FleetOptions.every starts fire only when it is advanced past their period. */
function fakeClock() {
  let nowMs = 0;
  const timers = new Set<{ periodMs: number; dueMs: number; tick: () => void }>();
  return {
    timers,
    every(periodMs: number, tick: () => void): () => void {
      const t = { periodMs, dueMs: nowMs + periodMs, tick };
      timers.add(t);
      return () => void timers.delete(t);
    },
    /** Moves the clock by `ms`, firing each timer as many times as its period passes, in time order. */
    advance(ms: number): void {
      const untilMs = nowMs + ms;
      for (let fired = 0; fired < 10_000; fired++) {
        const due = [...timers].filter((t) => t.dueMs <= untilMs).sort((a, b) => a.dueMs - b.dueMs)[0];
        if (!due) break;
        nowMs = due.dueMs;
        due.dueMs += due.periodMs;
        due.tick();
      }
      nowMs = untilMs;
    },
  };
}

/** Lets every promise chain started so far run to its end (the fake control plane answers at once). */
const settled = () => new Promise((r) => setTimeout(r, 50));

describe('fleet source: the periodic poll', () => {
  test('a change whose announcement was lost, while the watch is up, is served one poll period later and not before', async () => {
    const cp = new FakeControlPlane();
    // The subscription stays up but drops the next message it is given (a pub/sub message lost).
    let dropNext = false;
    const watch = cp.watch.bind(cp);
    cp.watch = (listener) => watch((name) => (dropNext ? void (dropNext = false) : listener(name)));
    let listed = 0;
    const functions = cp.functions.bind(cp);
    cp.functions = () => (listed++, functions());
    const v1 = await cp.add('grub', 'export const handle = () => "one";');
    await cp.setRollout('grub', { stable: v1.id });
    const clock = fakeClock();
    const pollMs = 30_000;
    const s = slots();
    const { f } = fleet(cp, cacheDir(), { pollMs, heartbeatMs: 3_600_000, every: clock.every });
    await f.start(s.fleetSlots);
    expect(clock.timers.size).toBe(2); // the poll and the heartbeat, both on the clock given
    expect(s.serving('grub')).toEqual([v1.id]);
    const listedAtStart = listed;

    const v2 = await cp.add('grub', 'export const handle = () => "two";');
    dropNext = true;
    await cp.setRollout('grub', { stable: v2.id });
    expect(dropNext).toBe(false); // the announcement reached the watch and was dropped there
    await settled();
    expect(s.serving('grub')).toEqual([v1.id]);

    // One millisecond short of the period: no poll, still the old version.
    clock.advance(pollMs - 1);
    await settled();
    expect(listed).toBe(listedAtStart);
    expect(s.serving('grub')).toEqual([v1.id]);
    expect(cp.ackLog).toHaveLength(1);

    // The period passes: the poll re-reads the rollout, loads v2 and acknowledges it.
    clock.advance(1);
    expect(await eventually(() => s.serving('grub')[0] === v2.id)).toBe(true);
    expect(listed).toBe(listedAtStart + 1);
    expect(await eventually(() => cp.ackLog.length === 2)).toBe(true);
    expect(cp.ackLog[1]).toMatchObject({ revision: 2, serving: [v2.id], ok: true });

    // The watch was up all along: the next announcement is acted on at once, with no poll.
    const v3 = await cp.add('grub', 'export const handle = () => "three";');
    await cp.setRollout('grub', { stable: v3.id });
    expect(await eventually(() => s.serving('grub')[0] === v3.id)).toBe(true);
    expect(listed).toBe(listedAtStart + 1);

    await f.close();
    expect(clock.timers.size).toBe(0); // close stops both timers
  });
});

describe('fleet source: secrets', () => {
  test('a rotated secret loads the same version again with it, without an ack or a version change, and reaches the disk cache', async () => {
    const cp = new FakeControlPlane();
    const v1 = await cp.add('grub', 'export const handle = () => "one";');
    await cp.setRollout('grub', { stable: v1.id });
    await cp.putSecret('grub', 'TOKEN', 'old');
    const dir = cacheDir();
    const s = slots();
    const { f } = fleet(cp, dir);
    await f.start(s.fleetSlots);
    expect(s.loads.map((l) => l.spec.secrets)).toEqual([{ TOKEN: 'old' }]);
    // Nothing changed: a poll loads nothing.
    await f.poll();
    expect(s.loads).toHaveLength(1);
    await cp.putSecret('grub', 'TOKEN', 'new');
    await f.poll();
    expect(s.loads.map((l) => [l.spec.version, l.spec.secrets])).toEqual([
      [v1.id, { TOKEN: 'old' }],
      [v1.id, { TOKEN: 'new' }],
    ]);
    expect(s.serving('grub')).toEqual([v1.id]);
    // The same version, loaded again under a new key; the first pool retires (nothing pins it).
    const gens = s.map.get('grub')!.gens;
    expect(gens.current?.loadKey).toMatch(new RegExp(`^${v1.id}#[0-9a-f]{12}$`));
    expect(await eventually(() => gens.draining.size === 0)).toBe(true);
    expect(cp.ackLog).toHaveLength(1);
    expect((await new FleetCache(dir, KEY).served('grub'))?.secrets).toEqual({ TOKEN: 'new' });
    await f.poll();
    expect(s.loads).toHaveLength(2);
  });
});

describe('fleet source: leaving the live list on close', () => {
  test('close() waits for the heartbeat in flight, then leaves, so the gateway is off the live list at once', async () => {
    const cp = new FakeControlPlane();
    const v1 = await cp.add('grub', 'export const handle = () => "one";');
    await cp.setRollout('grub', { stable: v1.id });
    const order: string[] = [];
    // The heartbeat start() sends last hangs until the test lets it go.
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const heartbeat = cp.heartbeat.bind(cp);
    cp.heartbeat = async (presence: GatewayPresence) => {
      order.push('beat sent');
      await gate;
      await heartbeat(presence);
      order.push('beat stored');
    };
    const leave = cp.leave.bind(cp);
    cp.leave = async (id) => {
      order.push(`leave ${id}`);
      await leave(id);
    };
    const s = slots();
    const { f } = fleet(cp, cacheDir(), { gateway: 'gw-leaving' });
    await f.start(s.fleetSlots);
    expect(await eventually(() => order.includes('beat sent'))).toBe(true);

    let closed = false;
    const closing = f.close().then(() => (closed = true));
    await settled();
    // Not before the heartbeat is over: it would put the gateway back on the list after leaving.
    expect(closed).toBe(false);
    expect(order).toEqual(['beat sent']);
    release();
    await closing;
    expect(order).toEqual(['beat sent', 'beat stored', 'leave gw-leaving']);
    expect(cp.leaves).toEqual(['gw-leaving']);
    expect(cp.live).toEqual([]);
    expect(await cp.liveGateways()).toEqual([]);
    // A second close() does not leave again.
    await f.close();
    expect(cp.leaves).toEqual(['gw-leaving']);
  });

  test('a leave that hangs holds close() no longer than leaveTimeoutMs; one that fails is logged at debug and ignored', async () => {
    const cp = new FakeControlPlane();
    const v1 = await cp.add('grub', 'export const handle = () => "one";');
    await cp.setRollout('grub', { stable: v1.id });
    let leaveCalls = 0;
    cp.leave = () => (leaveCalls++, new Promise<void>(() => {})); // a control plane that never answers
    const s = slots();
    const leaveTimeoutMs = 300;
    const { f, log } = fleet(cp, cacheDir(), { gateway: 'gw-hung', leaveTimeoutMs });
    await f.start(s.fleetSlots);
    expect(await eventually(() => cp.live.some((p) => p.gateway === 'gw-hung'))).toBe(true);
    const startedMs = performance.now();
    await f.close();
    const tookMs = performance.now() - startedMs;
    expect(leaveCalls).toBe(1);
    // The bound itself, with slack for a loaded machine; far under the call timeout it could have used.
    expect(tookMs).toBeGreaterThanOrEqual(leaveTimeoutMs - 20);
    expect(tookMs).toBeLessThan(leaveTimeoutMs + 2000);
    const failed = log.lines.find((l) => l.event === 'controlLeaveFailed');
    expect(failed).toMatchObject({ level: 20 });
    expect(String(failed?.msg)).toContain(`leave: no answer from the control plane in ${leaveTimeoutMs} ms`);
    // Still listed in the plane: its heartbeat's TTL is what takes it off now.
    expect(cp.live.map((p) => p.gateway)).toEqual(['gw-hung']);
    // A shutdown's leave is no outage.
    expect(log.lines.some((l) => l.event === 'controlPlaneUnreachable')).toBe(false);

    // A plane that refuses at once: close() resolves all the same.
    const down = new FakeControlPlane();
    await down.setRollout('grub', { stable: (await down.add('grub', 'export const handle = () => "one";')).id });
    const s2 = slots();
    const { f: f2, log: log2 } = fleet(down, cacheDir(), { gateway: 'gw-down' });
    await f2.start(s2.fleetSlots);
    down.down = true;
    await expect(f2.close()).resolves.toBeUndefined();
    expect(log2.lines.find((l) => l.event === 'controlLeaveFailed')?.msg).toContain('ECONNREFUSED');
    expect(down.leaves).toEqual([]);
  });
});
