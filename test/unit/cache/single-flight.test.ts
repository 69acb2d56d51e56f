import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SingleFlight } from '../../../gateway/src/cache/single-flight.js';

/** A promise settled by hand. */
function deferred<T>() {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

describe('SingleFlight', () => {
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => void unhandled.push(reason);
  beforeEach(() => {
    unhandled.length = 0;
    process.on('unhandledRejection', onUnhandled);
  });
  afterEach(() => {
    process.off('unhandledRejection', onUnhandled);
  });

  it('single flight: concurrent calls for one key share one run and one promise', async () => {
    const flight = new SingleFlight<string>();
    const d = deferred<string>();
    let calls = 0;
    const load = () => {
      calls++;
      return d.promise;
    };
    const a = flight.run('k', load);
    const b = flight.run('k', load);
    expect(b).toBe(a);
    expect(calls).toBe(1);
    expect(flight.size).toBe(1);
    d.resolve('v');
    expect(await Promise.all([a, b])).toEqual(['v', 'v']);
  });

  it('single flight: different keys run separately', async () => {
    const flight = new SingleFlight<string>();
    const results = await Promise.all([flight.run('a', async () => 'A'), flight.run('b', async () => 'B')]);
    expect(results).toEqual(['A', 'B']);
  });

  it('single flight: the key is forgotten once the run succeeds, so the next call runs again', async () => {
    const flight = new SingleFlight<number>();
    let calls = 0;
    expect(await flight.run('k', async () => ++calls)).toBe(1);
    expect(flight.size).toBe(0);
    expect(await flight.run('k', async () => ++calls)).toBe(2);
  });

  it('single flight: a failure reaches every waiting caller, is forgotten, and nothing is left unhandled', async () => {
    const flight = new SingleFlight<number>();
    const d = deferred<number>();
    const a = flight.run('k', () => d.promise);
    const b = flight.run('k', () => Promise.resolve(0));
    d.reject(new Error('boom'));
    await expect(a).rejects.toThrow('boom');
    await expect(b).rejects.toThrow('boom');
    expect(flight.size).toBe(0);
    expect(await flight.run('k', async () => 7)).toBe(7);
    await new Promise((r) => setImmediate(r));
    expect(unhandled).toEqual([]);
  });

  it('single flight: a load that throws synchronously gives a rejected promise, not a throw', async () => {
    const flight = new SingleFlight<number>();
    const p = flight.run('k', () => {
      throw new Error('sync');
    });
    await expect(p).rejects.toThrow('sync');
    expect(flight.size).toBe(0);
    await new Promise((r) => setImmediate(r));
    expect(unhandled).toEqual([]);
  });

  it('single flight: the load starts before run returns (its synchronous part is not deferred)', () => {
    const flight = new SingleFlight<void>();
    const seen: string[] = [];
    void flight.run('k', async () => {
      seen.push('load');
    });
    seen.push('after run');
    expect(seen).toEqual(['load', 'after run']);
  });
});
