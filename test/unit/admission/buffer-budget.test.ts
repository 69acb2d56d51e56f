import { describe, expect, it } from 'vitest';
import { BufferBudget, sessionBufferBytes } from '../../../gateway/src/admission/buffer-budget.js';

describe('buffer budget', () => {
  it('buffer budget: a session reserves two windows (in flight and read ahead)', () => {
    expect(sessionBufferBytes({ blockSize: 65464, windowSize: 64 })).toBe(2 * 64 * 65464);
    expect(sessionBufferBytes({ blockSize: 512, windowSize: 1 })).toBe(1024);
  });

  it('buffer budget: a session never reserves more than its source when the size is known', () => {
    expect(sessionBufferBytes({ blockSize: 65464, windowSize: 64, sourceBytes: 1024 })).toBe(1024);
    expect(sessionBufferBytes({ blockSize: 65464, windowSize: 64, sourceBytes: 0 })).toBe(0);
    expect(sessionBufferBytes({ blockSize: 512, windowSize: 1, sourceBytes: 40 << 20 })).toBe(1024);
  });

  it('buffer budget: reservations fit until the budget is spent, then are refused whole', () => {
    const b = new BufferBudget(10_000);
    expect(b.tryReserve(4000)).toBe(true);
    expect(b.tryReserve(4000)).toBe(true);
    expect(b.tryReserve(4000)).toBe(false);
    expect(b.reservedBytes).toBe(8000);
    expect(b.tryReserve(2000)).toBe(true);
    expect(b.reservedBytes).toBe(10_000);
    expect(b.tryReserve(1)).toBe(false);
  });

  it('buffer budget: released bytes can be reserved again; the peak is remembered', () => {
    const b = new BufferBudget(100);
    expect(b.tryReserve(60)).toBe(true);
    expect(b.tryReserve(60)).toBe(false);
    b.release(60);
    expect(b.reservedBytes).toBe(0);
    expect(b.tryReserve(60)).toBe(true);
    expect(b.peakBytes).toBe(60);
  });

  it('buffer budget: nonsense sizes are refused and never corrupt the total', () => {
    const b = new BufferBudget(100);
    expect(b.tryReserve(-5)).toBe(false);
    expect(b.tryReserve(Number.NaN)).toBe(false);
    expect(b.tryReserve(Infinity)).toBe(false);
    b.release(50);
    expect(b.reservedBytes).toBe(0);
  });
});
