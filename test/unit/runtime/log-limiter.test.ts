import { describe, expect, test } from 'vitest';
import { LogLimiter } from '../../../gateway/src/runtime/log-limiter.js';

describe('log limiter', () => {
  test('an invocation gets at most linesPerInvocation lines; the rest are counted and reported once at the end', () => {
    const l = new LogLimiter({ linesPerInvocation: 3, bytesPerInvocation: 1e6, linesPerSecond: 1000 });
    const admitted = Array.from({ length: 10 }, () => l.admit(1, 10, 0)).filter(Boolean).length;
    expect(admitted).toBe(3);
    expect(l.finish(1)).toBe(7);
    expect(l.finish(1)).toBe(0);
  });

  test('an invocation gets at most bytesPerInvocation bytes', () => {
    const l = new LogLimiter({ linesPerInvocation: 100, bytesPerInvocation: 100, linesPerSecond: 1000 });
    expect(l.admit(1, 60, 0)).toBe(true);
    expect(l.admit(1, 60, 0)).toBe(false);
    expect(l.admit(1, 40, 0)).toBe(true);
    expect(l.finish(1)).toBe(1);
  });

  test('the per-function bucket is shared by invocations and refills at linesPerSecond (fake clock)', () => {
    const l = new LogLimiter({ linesPerInvocation: 1000, bytesPerInvocation: 1e6, linesPerSecond: 10 });
    let ok = 0;
    for (let i = 0; i < 20; i++) if (l.admit(i % 2 === 0 ? 1 : 2, 1, 0)) ok++;
    expect(ok).toBe(10);
    expect(l.admit(1, 1, 50)).toBe(false); // half a token
    expect(l.admit(1, 1, 100)).toBe(true); // one token after 100 ms
    expect(l.finish(1) + l.finish(2)).toBe(11);
    // A quiet second refills to the burst, never beyond it.
    let later = 0;
    for (let i = 0; i < 30; i++) if (l.admit(3, 1, 10_000)) later++;
    expect(later).toBe(10);
  });

  test('lines outside invocations and lines the worker dropped itself are counted', () => {
    const l = new LogLimiter({ linesPerInvocation: 1, bytesPerInvocation: 1e6, linesPerSecond: 1 });
    expect(l.admit(undefined, 1, 0)).toBe(true);
    expect(l.admit(undefined, 1, 0)).toBe(false);
    l.droppedByWorker(undefined, 5);
    l.droppedByWorker(4, 9);
    expect(l.takeStrayDropped()).toBe(6);
    expect(l.takeStrayDropped()).toBe(0);
    expect(l.finish(4)).toBe(9);
  });
});
