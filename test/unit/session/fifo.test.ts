/** The sessions' allocation-free first-in, first-out queue. */
import { describe, expect, it } from 'vitest';
import { Fifo } from '../../../gateway/src/session/fifo.js';

describe('fifo', () => {
  it('fifo: items come out in the order they went in; at() looks without removing; empty gives undefined', () => {
    const q = new Fifo<string>();
    expect(q.shift()).toBeUndefined();
    q.push('a');
    q.push('b');
    q.push('c');
    expect(q.length).toBe(3);
    expect([q.at(0), q.at(2), q.at(3), q.at(-1)]).toEqual(['a', 'c', undefined, undefined]);
    expect(q.shift()).toBe('a');
    expect(q.at(0)).toBe('b');
    q.push('d');
    expect([q.shift(), q.shift(), q.shift(), q.shift()]).toEqual(['b', 'c', 'd', undefined]);
    expect(q.length).toBe(0);
  });

  it('fifo: clear drops everything and the queue works on', () => {
    const q = new Fifo<number>();
    for (let i = 0; i < 5; i++) q.push(i);
    q.shift();
    q.clear();
    expect(q.length).toBe(0);
    expect(q.shift()).toBeUndefined();
    q.push(9);
    expect(q.shift()).toBe(9);
  });

  it('fifo: its slots grow only with the most items held at once, whether it empties each round or never does', () => {
    const q = new Fifo<number>();
    // Lock-step: one in, one out, 10,000 times.
    for (let i = 0; i < 10_000; i++) {
      q.push(i);
      expect(q.shift()).toBe(i);
    }
    expect(q.capacity).toBe(1);
    // A window that never drains: 16 in flight, one acknowledged and one sent per step.
    const w = new Fifo<number>();
    let next = 0;
    let expected = 0;
    for (; next < 16; next++) w.push(next);
    for (let i = 0; i < 10_000; i++) {
      expect(w.shift()).toBe(expected++);
      w.push(next++);
    }
    expect(w.length).toBe(16);
    expect(w.capacity).toBeLessThanOrEqual(17);
  });

  it('fifo: matches an array used as a queue over 20,000 seeded random operations', () => {
    let seed = 12345;
    const rand = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
    const q = new Fifo<number>();
    const model: number[] = [];
    let maxHeld = 0;
    for (let i = 0; i < 20_000; i++) {
      const r = rand();
      if (r < 0.5) {
        q.push(i);
        model.push(i);
      } else if (r < 0.95) {
        expect(q.shift()).toBe(model.shift());
      } else if (r < 0.99) {
        const k = Math.floor(rand() * (model.length + 1));
        expect(q.at(k)).toBe(model[k]);
      } else {
        q.clear();
        model.length = 0;
      }
      maxHeld = Math.max(maxHeld, model.length);
      expect(q.length).toBe(model.length);
    }
    expect(q.capacity).toBeLessThanOrEqual(maxHeld + 1);
  });
});
