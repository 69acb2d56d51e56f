/**
 * The periodic server-stats callback (fbtftp's server-stats callback): a snapshot every
 * `intervalMs`. A hook that throws is logged and called again next time; the timer never
 * keeps the process alive.
 */
import type { Logger } from 'pino';
import type { ServerStats } from '../stats/server-stats.js';

/** Starts the timer; returns its stop function (a closer for the disposer stack). */
export function startServerStatsHook(hook: (stats: ServerStats) => void, intervalMs: number, stats: () => ServerStats, logger: Logger): () => void {
  const timer = setInterval(() => {
    try {
      hook(stats());
    } catch (e) {
      logger.error({ event: 'hookError', err: e }, 'server stats hook threw');
    }
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
