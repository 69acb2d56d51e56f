/**
 * The supervisor's restart backoff on a fake clock (runtime/restart-backoff.ts): the first two
 * deaths in 10 s are replaced at once, then the wait doubles from 100 ms to a 2 s cap, and
 * deaths older than 10 s stop counting.
 */
import { describe, expect, test } from 'vitest';
import { CRASH_WINDOW_MS, MAX_RESTART_DELAY_MS, RestartBackoff } from '../../../gateway/src/runtime/restart-backoff.js';

describe('restart backoff', () => {
  test('restart backoff: the first two deaths are replaced at once', () => {
    const b = new RestartBackoff();
    expect(b.next(0)).toBe(0);
    expect(b.next(1)).toBe(0);
  });

  test('restart backoff: from the third death in the window the wait doubles up to the cap', () => {
    const b = new RestartBackoff();
    const delays = Array.from({ length: 9 }, (_, i) => b.next(i * 10));
    expect(delays).toEqual([0, 0, 100, 200, 400, 800, 1600, 2000, 2000]);
    expect(Math.max(...delays)).toBe(MAX_RESTART_DELAY_MS);
  });

  test('restart backoff: deaths older than the window no longer count', () => {
    const b = new RestartBackoff();
    for (let i = 0; i < 5; i++) b.next(i);
    expect(b.next(5)).toBe(800);
    // Every earlier death has left the window: this one is the first again.
    expect(b.next(5 + CRASH_WINDOW_MS)).toBe(0);
    expect(b.next(6 + CRASH_WINDOW_MS)).toBe(0);
    expect(b.next(7 + CRASH_WINDOW_MS)).toBe(100);
  });

  test('restart backoff: a death exactly one window later has left it (the window is open at its end)', () => {
    const b = new RestartBackoff();
    b.next(0);
    b.next(0);
    expect(b.next(CRASH_WINDOW_MS - 1)).toBe(100);
    // At 0 + window the two deaths at 0 are gone; the one at window − 1 remains.
    expect(b.next(CRASH_WINDOW_MS)).toBe(0);
  });
});
