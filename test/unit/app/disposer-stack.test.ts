import { describe, expect, it } from 'vitest';
import { DisposerStack } from '../../../gateway/src/app/disposer-stack.js';

describe('DisposerStack', () => {
  it('disposer stack: closes the parts newest first, once, passing graceMs to each', async () => {
    const stack = new DisposerStack();
    const closed: string[] = [];
    for (const name of ['objects', 'functions', 'listeners']) {
      stack.defer(name, async (graceMs) => {
        await Promise.resolve();
        closed.push(`${name}:${graceMs}`);
      });
    }
    expect(stack.names).toEqual(['objects', 'functions', 'listeners']);
    const first = stack.dispose(250);
    const second = stack.dispose(0);
    expect(second).toBe(first);
    await Promise.all([first, second]);
    await stack.dispose(0);
    expect(closed).toEqual(['listeners:250', 'functions:250', 'objects:250']);
    expect(stack.names).toEqual([]);
  });

  it('disposer stack: a closer that throws does not stop the older ones, and its error is the rejection', async () => {
    const stack = new DisposerStack();
    const closed: string[] = [];
    const boom = new Error('sink flush failed');
    stack.defer('objects', () => void closed.push('objects'));
    stack.defer('statsSink', () => {
      throw boom;
    });
    stack.defer('listeners', () => void closed.push('listeners'));
    await expect(stack.dispose(0)).rejects.toBe(boom);
    expect(closed).toEqual(['listeners', 'objects']);
  });

  it('disposer stack: two failing closers reject with an AggregateError naming both parts', async () => {
    const stack = new DisposerStack();
    const a = new Error('a');
    const b = new Error('b');
    stack.defer('functions', () => Promise.reject(a));
    stack.defer('metricsServer', () => Promise.reject(b));
    const err = await stack.dispose(0).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(AggregateError);
    expect((err as AggregateError).errors).toEqual([b, a]);
    expect((err as AggregateError).message).toBe('2 parts failed to close: metricsServer, functions');
  });

  it('disposer stack: registering after teardown began is refused, so no part is left open', async () => {
    const stack = new DisposerStack();
    stack.defer('objects', () => undefined);
    const done = stack.dispose(0);
    expect(() => stack.defer('late', () => undefined)).toThrow('cannot register "late": teardown has already run');
    await done;
  });

  it('disposer stack: an empty stack disposes without error', async () => {
    await expect(new DisposerStack().dispose(0)).resolves.toBeUndefined();
  });
});
