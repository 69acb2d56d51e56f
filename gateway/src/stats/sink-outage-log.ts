/**
 * A Redis outage as the stats sink (redis-sink.ts) logs it: one warn line when it starts (how
 * many records are buffered), one info line when it ends (how long it lasted, how many records
 * were pushed and dropped meanwhile, how many are still buffered). The start and the length are
 * redis/outage.ts's, as the cache logs its own, so "unavailable" and "reconnected" mean the same
 * in both logs.
 */
import type { Logger } from '../logging.js';
import { RedisOutage } from '../redis/outage.js';

/** The sink's counters this log reads (RedisStatsSinkStats). */
interface SinkCounts {
  readonly pushed: number;
  readonly dropped: number;
  readonly buffered: number;
}

export class SinkOutageLog {
  private readonly outage = new RedisOutage();
  private pushedAtDown = 0;
  private droppedAtDown = 0;

  constructor(
    private readonly logger: Logger,
    private readonly stats: SinkCounts,
  ) {}

  /** The connection failed: logs the start of an outage, unless one is already on. */
  down(err: Error): void {
    if (!this.outage.start()) return;
    this.pushedAtDown = this.stats.pushed;
    this.droppedAtDown = this.stats.dropped;
    this.logger.warn({ event: 'statsRedisUnavailable', err, buffered: this.stats.buffered }, 'redis unavailable: session records buffered in memory');
  }

  /** Redis answered again: logs the end of the outage, if one was on. */
  up(): void {
    const downMs = this.outage.end();
    if (downMs === undefined) return;
    this.logger.info(
      {
        event: 'statsRedisReconnected',
        downMs,
        pushedWhileDown: this.stats.pushed - this.pushedAtDown,
        droppedWhileDown: this.stats.dropped - this.droppedAtDown,
        buffered: this.stats.buffered,
      },
      'redis reconnected: flushing buffered session records',
    );
  }
}
