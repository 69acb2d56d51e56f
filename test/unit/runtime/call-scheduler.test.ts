import { describe, expect, it } from 'vitest';
import { CallScheduler, type Call, type PooledWorker } from '../../../gateway/src/runtime/call-scheduler.js';

// Plain records stand in for workers and calls: the scheduler only reads their flags and maps.
function worker(name: string, flags: Partial<PooledWorker> = {}): PooledWorker & { name: string } {
  return {
    name,
    worker: undefined as never,
    ready: true,
    suspect: false,
    killReason: undefined,
    probeWaiters: [],
    onGone: undefined,
    calls: new Map(),
    retriedCalls: 0,
    kvInflight: 0,
    ...flags,
  };
}

let nextId = 1;
function call(): Call {
  return {
    id: nextId++,
    startedAt: 0,
    request: { id: `r${nextId}` } as never,
    resolve: () => undefined,
    reject: () => undefined,
    timer: undefined,
    worker: undefined,
    headed: false,
    retried: false,
    settled: false,
    stream: undefined,
  };
}

function setup(workers: PooledWorker[], maxConcurrent: number) {
  const dispatched: [string, number][] = [];
  const released: number[] = [];
  const scheduler = new CallScheduler(workers, maxConcurrent, {
    dispatch: (w, c) => dispatched.push([(w as PooledWorker & { name: string }).name, c.id]),
    released: (c) => released.push(c.id),
  });
  return { scheduler, dispatched, released };
}

describe('call scheduler', () => {
  it('call scheduler: dispatches up to maxConcurrent, queues as many more, then says full', () => {
    const { scheduler, dispatched } = setup([worker('a'), worker('b')], 2);
    const calls = [call(), call(), call(), call(), call()];
    expect(calls.map((c) => scheduler.admit(c))).toEqual(['dispatched', 'dispatched', 'queued', 'queued', 'full']);
    expect(scheduler.active).toBe(2);
    expect(scheduler.waiting).toBe(2);
    // The worker with the fewest calls gets the next one.
    expect(dispatched.map(([w]) => w)).toEqual(['a', 'b']);
  });

  it('call scheduler: a released slot goes to the oldest waiting call, after the released hook', () => {
    const a = worker('a');
    const { scheduler, dispatched, released } = setup([a], 1);
    const [first, second, third] = [call(), call(), call()];
    expect([first, second, third].map((c) => scheduler.admit(c))).toEqual(['dispatched', 'queued', 'full']);
    scheduler.release(first);
    expect(released).toEqual([first.id]);
    expect(dispatched.map(([, id]) => id)).toEqual([first.id, second.id]);
    expect(second.worker).toBe(a);
    expect(a.calls.has(first.id)).toBe(false);
    // A second release of the same call changes nothing.
    scheduler.release(first);
    expect(released).toEqual([first.id]);
    expect(scheduler.active).toBe(1);
    expect(scheduler.waiting).toBe(0);
  });

  it('call scheduler: skips workers that are not ready, suspect or being killed', () => {
    const { scheduler, dispatched } = setup([worker('loading', { ready: false }), worker('suspect', { suspect: true }), worker('dying', { killReason: 'stuck' }), worker('ok')], 4);
    scheduler.admit(call());
    scheduler.admit(call());
    expect(dispatched.map(([w]) => w)).toEqual(['ok', 'ok']);
  });

  it('call scheduler: a requeued call waits at the front and takes no worker that already holds a retried call', () => {
    const a = worker('a');
    const b = worker('b');
    const { scheduler, dispatched, released } = setup([a, b], 4);
    const victim = call();
    scheduler.admit(victim);
    expect(victim.worker).toBe(a);
    // a dies: the victim leaves it without a release (no log finish) and waits at the front.
    a.ready = false;
    scheduler.requeueFront(victim);
    expect(victim.retried).toBe(true);
    expect(scheduler.active).toBe(0);
    expect(released).toEqual([]);
    b.retriedCalls = 1; // b already holds another retried call
    const ordinary = call();
    scheduler.admit(ordinary); // ordinary calls go past a retried call that must wait
    scheduler.pump();
    expect(victim.worker).toBeUndefined();
    expect(ordinary.worker).toBe(b);
    b.retriedCalls = 0;
    scheduler.pump();
    expect(victim.worker).toBe(b);
    expect(b.retriedCalls).toBe(1);
    scheduler.release(victim);
    expect(b.retriedCalls).toBe(0);
    expect(dispatched.map(([w, id]) => `${w}:${id}`)).toEqual([`a:${victim.id}`, `b:${ordinary.id}`, `b:${victim.id}`]);
  });

  it('call scheduler: settled calls leave the queue; dequeue and drain empty it', () => {
    const { scheduler } = setup([worker('a', { ready: false })], 3);
    const [settled, timedOut, waiting] = [call(), call(), call()];
    for (const c of [settled, timedOut, waiting]) expect(scheduler.admit(c)).toBe('queued');
    settled.settled = true;
    scheduler.dequeue(timedOut);
    scheduler.pump();
    expect(scheduler.waiting).toBe(1);
    expect(scheduler.drain()).toEqual([waiting]);
    expect(scheduler.waiting).toBe(0);
  });
});
