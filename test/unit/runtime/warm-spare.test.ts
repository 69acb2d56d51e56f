/**
 * The warm spare's lifecycle (runtime/warm-spare.ts) with a fake process starter: which spare
 * is adopted, when another is started, what happens to one that dies idle, speaks before its
 * boot, or has the wrong shape, and that close leaves nothing running. The same with real
 * processes, and the rights of an adopted process: test/integration/warm-spare.test.ts.
 */
import { describe, expect, test } from 'vitest';
import { pino } from 'pino';
import { shapeKey, WarmSpare, type SpareShape, type SpareStarter } from '../../../gateway/src/runtime/warm-spare.js';
import type { ProcessWorker } from '../../../gateway/src/runtime/sandbox-process.js';
import type { WorkerBoot } from '../../../gateway/src/runtime/worker-protocol.js';
import type { WorkerEvents } from '../../../gateway/src/runtime/worker-handle.js';
import { PassThrough } from 'node:stream';

interface FakeProcess extends ProcessWorker {
  readonly dir: string;
  readonly shape: SpareShape;
  events: WorkerEvents;
  boots: WorkerBoot[];
  terminated: boolean;
  /** The process ends (as if killed, or after terminate). */
  die(signal?: string): void;
}

function harness() {
  const started: FakeProcess[] = [];
  const removed: string[] = [];
  let nextPid = 100;
  let nextDir = 1;
  const start: SpareStarter = (shape, dir, events) => {
    let exited = false;
    const p: FakeProcess = {
      pid: nextPid++,
      dir,
      shape,
      events,
      boots: [],
      terminated: false,
      stdout: new PassThrough(),
      stderr: new PassThrough(),
      send: () => {},
      boot: (b) => p.boots.push(b),
      get exited() {
        return exited;
      },
      terminate: () => {
        p.terminated = true;
        p.die('SIGKILL');
      },
      die: (signal = 'SIGKILL') => {
        if (exited) return;
        exited = true;
        events.exit({ code: null, signal, heapExhausted: false, memoryExhausted: false });
      },
    };
    started.push(p);
    return p;
  };
  const spare = new WarmSpare({ log: pino({ level: 'silent' }), start, makeDir: async () => `/fake/dir-${nextDir++}`, removeDir: (d) => removed.push(d) });
  return { spare, started, removed };
}

const shape = (heapMb = 64, env: Record<string, string> = { TZ: 'UTC' }): SpareShape => ({
  command: { heapMb, memoryMb: heapMb + 384, user: { uid: 65534, gid: 65534 }, network: 'user-namespace', unsharePath: '/usr/bin/unshare', allowRead: ['/etc/inventory.json'], nodeDataKb: 40_000 },
  env,
});

const turn = () => new Promise((r) => setImmediate(r));
const noop: WorkerEvents = { message: () => {}, exit: () => {} };

describe('warm spare: lifecycle', () => {
  test('warm spare: the first take starts a spare of that shape and returns none; the next take adopts it', async () => {
    const { spare, started } = harness();
    expect(spare.take(shape())).toBeUndefined();
    await spare.idle();
    expect(started).toHaveLength(1);
    expect(started[0].shape).toEqual(shape());
    const adopted = spare.take(shape());
    expect(adopted?.worker).toBe(started[0]);
    expect(adopted?.dir).toBe('/fake/dir-1');
    expect(spare.stats).toMatchObject({ started: 1, adopted: 1 });
  });

  test('warm spare: an adopted process that dies while loading also starts the next spare', async () => {
    const { spare, started } = harness();
    spare.take(shape());
    await spare.idle();
    spare.take(shape())!.bind(noop);
    started[0].die();
    await spare.idle();
    expect(started).toHaveLength(2);
    expect(spare.stats.died).toBe(0);
  });

  test('warm spare: after an adoption another spare is started once the adopted process answers, not beside its load', async () => {
    const { spare, started } = harness();
    spare.take(shape());
    await spare.idle();
    const adopted = spare.take(shape())!;
    adopted.bind(noop);
    expect(spare.pid).toBeUndefined();
    await turn();
    expect(started).toHaveLength(1);
    started[0].events.message({ t: 'ready' });
    await spare.idle();
    expect(started).toHaveLength(2);
    expect(spare.pid).toBe(started[1].pid);
    expect(started[1].dir).not.toBe(adopted.dir);
  });

  test('warm spare: an adopted process reports to its pool, not to the spare; its death is not an idle death', async () => {
    const { spare, started, removed } = harness();
    spare.take(shape());
    await spare.idle();
    const seen: string[] = [];
    const adopted = spare.take(shape())!;
    adopted.bind({ message: (m) => seen.push(`message ${JSON.stringify(m)}`), exit: (e) => seen.push(`exit ${e.signal}`) });
    started[0].events.message({ t: 'ready' });
    await spare.idle();
    started[0].die();
    expect(seen).toEqual(['message {"t":"ready"}', 'exit SIGKILL']);
    // The pool's supervisor removes an adopted folder; the spare does not, nor count a death.
    expect(removed).not.toContain(adopted.dir);
    expect(spare.stats.died).toBe(0);
    expect(started).toHaveLength(2);
  });

  test('warm spare: an idle spare that dies is replaced (and its folder removed)', async () => {
    const { spare, started, removed } = harness();
    spare.take(shape());
    await spare.idle();
    started[0].die();
    expect(spare.stats.died).toBe(1);
    expect(removed).toEqual(['/fake/dir-1']);
    await spare.idle();
    expect(started).toHaveLength(2);
    expect(spare.take(shape())?.worker).toBe(started[1]);
  });

  test('warm spare: one that keeps dying is restarted with backoff, not in a loop', async () => {
    const { spare, started } = harness();
    spare.take(shape());
    await spare.idle();
    for (let i = 0; i < 3; i++) {
      started[started.length - 1].die();
      await spare.idle();
    }
    // restart-backoff.ts: from the third death within 10 s the next start waits (100, then 200 ms).
    started[started.length - 1].die();
    await turn();
    expect(started).toHaveLength(4);
    expect(spare.pid).toBeUndefined();
    await spare.idle();
    expect(started).toHaveLength(5);
    await spare.close();
  });

  test('warm spare: an idle spare that sends a message (it runs no user code yet) is killed and replaced', async () => {
    const { spare, started } = harness();
    spare.take(shape());
    await spare.idle();
    started[0].events.message({ t: 'ready' });
    expect(started[0].terminated).toBe(true);
    await spare.idle();
    expect(started).toHaveLength(2);
  });

  test('warm spare: a take with another shape does not adopt; the spare is killed and one of the new shape started', async () => {
    const { spare, started } = harness();
    spare.take(shape(64));
    await spare.idle();
    expect(spare.take(shape(96))).toBeUndefined();
    expect(started[0].terminated).toBe(true);
    expect(spare.stats.died).toBe(0);
    await spare.idle();
    expect(started).toHaveLength(2);
    expect(started[1].shape.command.heapMb).toBe(96);
    expect(spare.take(shape(96))?.worker).toBe(started[1]);
  });

  test('warm spare: close kills the idle spare, removes its folder and starts no more', async () => {
    const { spare, started, removed } = harness();
    spare.take(shape());
    await spare.idle();
    await spare.close();
    expect(started[0].terminated).toBe(true);
    expect(removed).toEqual(['/fake/dir-1']);
    expect(spare.take(shape())).toBeUndefined();
    await turn();
    expect(started).toHaveLength(1);
  });

  test('warm spare: close while the spare\'s folder is being made starts no process and removes the folder', async () => {
    const { spare, started, removed } = harness();
    spare.take(shape());
    await spare.close();
    expect(started).toHaveLength(0);
    expect(removed).toEqual(['/fake/dir-1']);
  });
});

describe('warm spare: shapes', () => {
  test('warm spare: shapes differ by every field that changes a process\'s rights or limits', () => {
    const base = shape();
    const variants: SpareShape[] = [
      shape(96),
      { ...base, command: { ...base.command, memoryMb: 999 } },
      { ...base, command: { ...base.command, user: { uid: 1000, gid: 1000 } } },
      { ...base, command: { ...base.command, user: undefined } },
      { ...base, command: { ...base.command, network: 'lockdown-only' } },
      { ...base, command: { ...base.command, allowRead: [] } },
      { ...base, command: { ...base.command, allowRead: ['/etc/other'] } },
      { ...base, command: { ...base.command, nodeDataKb: 1 } },
      shape(64, { TZ: 'Europe/Paris' }),
      shape(64, {}),
    ];
    for (const v of variants) expect(shapeKey(v), JSON.stringify(v)).not.toBe(shapeKey(base));
    expect(shapeKey(shape(64, { LANG: 'C', TZ: 'UTC' }))).toBe(shapeKey(shape(64, { TZ: 'UTC', LANG: 'C' })));
  });
});
