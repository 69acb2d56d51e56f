/**
 * How long to wait before replacing workers that died. The first two deaths within a 10 s
 * window are replaced at once; from the third on the wait doubles from 100 ms up to 2 s
 * (50 ms × 2^(deaths − 2), capped), so a function that kills every worker it gets cannot turn
 * the gateway into a fork bomb, and one that crashed once is back at full strength at once.
 *
 * Pure: the caller passes `nowMs` (worker-supervisor.ts passes Date.now()), so tests use a
 * fake clock.
 */

export const MAX_RESTART_DELAY_MS = 2000;
/** Deaths older than this no longer slow replacements down. */
export const CRASH_WINDOW_MS = 10_000;

export class RestartBackoff {
  private recentCrashes: number[] = [];

  /** Records one death at `nowMs` and returns how long to wait before replacing it. */
  next(nowMs: number): number {
    this.recentCrashes = this.recentCrashes.filter((t) => nowMs - t < CRASH_WINDOW_MS);
    this.recentCrashes.push(nowMs);
    const n = this.recentCrashes.length;
    return n <= 2 ? 0 : Math.min(MAX_RESTART_DELAY_MS, 50 * 2 ** (n - 2));
  }
}
