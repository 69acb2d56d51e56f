/**
 * Ships session records to Redis: one stream entry per record, plus per-minute counters.
 *
 * Theory of operation. A transfer must never wait on, slow down or fail because of Redis, so
 * `push()` only appends to an in-memory queue (O(1), never throws) and a flush loop ships it:
 *   - every `flushMs`, and as soon as a full batch (DEFAULT_STATS_BATCH_SIZE) is waiting, one batch is sent
 *     as ONE pipeline (no MULTI: a batch is a single round trip, atomicity buys nothing here);
 *   - per record: `XADD streamKey MAXLEN ~ maxLen * gateway G outcome O function F file P r JSON`,
 *     all of a batch's records in one script call, and the per-minute counters summed in memory
 *     first (stats-batch.ts builds both, without Redis);
 *   - the queue is bounded by `bufferMax`: beyond it the OLDEST records are dropped and counted
 *     (`stats.dropped`), so memory stays bounded through any outage;
 *   - a batch that fails on the connection goes back to the FRONT of the queue (order kept,
 *     same bound). Delivery is at least once: a batch in flight when the socket dies may have
 *     been applied and is sent again (ids in the JSON let a reader de-duplicate);
 *   - while the connection is not ready nothing is sent: ioredis reconnects with a capped
 *     backoff, and the 'ready' event starts a flush. A batch that times out on an open socket
 *     (a hung Redis) holds flushing for RETRY_AFTER_FAILURE_MS, so a hung server is not
 *     hammered either.
 *
 * Invariant, at every moment: pushed === flushed + dropped + buffered (buffered counts the queue
 * and the batch in flight). Logs: one warn line when an outage starts, one info line when it
 * ends (how long, how many records were buffered and dropped meanwhile).
 *
 * The connection is the sink's own: stats writes must never queue behind (or ahead of) cache
 * reads on the cache's connection. On a Redis Cluster a batch is still one pipeline to one
 * node: every key it writes carries the stream key's hash tag (cache/keyspace.ts statsKeys).
 *
 * This file decides when batches go; the bounded queue is drop-oldest-queue.ts, what one batch
 * sends (and whether to retry it) is stats-pipeline.ts, and the outage's log lines are
 * sink-outage-log.ts.
 */
import type { Logger } from '../logging.js';
import { connectRedis, redactRedisUrl, type RedisClient } from '../redis/connection.js';
import { REDIS_KEY_PREFIX, statsKeys } from '../cache/keyspace.js';
import type { SessionRecord } from './session-record.js';
import { DropOldestQueue } from './drop-oldest-queue.js';
import { defineStatsScript, sendStatsBatch } from './stats-pipeline.js';
import { SinkOutageLog } from './sink-outage-log.js';

export interface RedisStatsSinkOptions {
  url: string;
  gatewayId: string;
  streamKey: string;
  /** Approximate stream length cap (XADD MAXLEN ~). */
  maxLen: number;
  /** TTL set on every counter key a batch touches. */
  counterTtlSeconds: number;
  /** Records held in memory while Redis is unreachable; the oldest are dropped beyond. */
  bufferMax: number;
  flushMs: number;
  logger: Logger;
  /** Prepended to counter keys (not to streamKey, which is configured whole, and whose hash tag they share). Default 'tftpfn:'. */
  keyPrefix?: string;
  /** Records per pipeline. Default DEFAULT_STATS_BATCH_SIZE (200). */
  batchSize?: number;
  /** How long close() keeps flushing before it gives up on what is left. Default 2000. */
  closeTimeoutMs?: number;
}

export interface RedisStatsSinkStats {
  /** Records handed to push(). */
  pushed: number;
  /** Records Redis acknowledged. */
  flushed: number;
  /** Records dropped (oldest first) because the buffer was full. */
  dropped: number;
  /** Records in memory now: queued plus in flight. */
  buffered: number;
  /** Pipelines Redis acknowledged. */
  batches: number;
  /** Pipelines that failed (and were queued again, or dropped on a Redis reply error). */
  flushErrors: number;
}

/**
 * Records per pipeline. Building a batch runs on the gateway's event loop: measured on loopback,
 * 500 records cost ~7 ms (p95 ~18 ms) of synchronous work, 200 cost ~1.4 ms (p95 ~6 ms), which
 * is short enough not to delay other sessions' packets, and still ships >10 000 records/s.
 */
export const DEFAULT_STATS_BATCH_SIZE = 200;
const DEFAULT_CLOSE_TIMEOUT_MS = 2000;
/** A pipeline on an open but silent connection fails after this long. */
const COMMAND_TIMEOUT_MS = 2000;
/** After a failed batch on a connection that still looks ready, wait this long before the next. */
const RETRY_AFTER_FAILURE_MS = 1000;

/** The counter keys' minute (stats-batch.ts), re-exported for the CLI that imports it from here. */
export { minuteEpoch } from './stats-batch.js';

/** Keys the sink writes (cache/keyspace.ts), re-exported for the CLI and tests that import them from here. */
export { statsKeys };

export class RedisStatsSink {
  readonly stats: RedisStatsSinkStats = { pushed: 0, flushed: 0, dropped: 0, buffered: 0, batches: 0, flushErrors: 0 };
  readonly client: RedisClient;
  private readonly opts: Required<Omit<RedisStatsSinkOptions, 'logger'>>;
  private readonly keys: ReturnType<typeof statsKeys>;
  private readonly logger: Logger;
  /** Bounded by bufferMax, oldest dropped first (the batch in flight counts against it too). */
  private readonly queue: DropOldestQueue<SessionRecord>;
  private inFlight = 0;
  private flushing: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private holdUntilMs = 0;
  private kickScheduled = false;
  private closing = false;
  /** The outage in progress and its two log lines (sink-outage-log.ts). */
  private readonly outage: SinkOutageLog;

  constructor(opts: RedisStatsSinkOptions) {
    // Field by field: an optional passed as `undefined` (an unset config field) takes the default.
    this.opts = {
      url: opts.url,
      gatewayId: opts.gatewayId,
      streamKey: opts.streamKey,
      maxLen: opts.maxLen,
      counterTtlSeconds: opts.counterTtlSeconds,
      bufferMax: opts.bufferMax,
      flushMs: opts.flushMs,
      keyPrefix: opts.keyPrefix ?? REDIS_KEY_PREFIX,
      batchSize: opts.batchSize ?? DEFAULT_STATS_BATCH_SIZE,
      closeTimeoutMs: opts.closeTimeoutMs ?? DEFAULT_CLOSE_TIMEOUT_MS,
    };
    this.keys = statsKeys(this.opts.keyPrefix, this.opts.streamKey);
    this.queue = new DropOldestQueue(this.opts.bufferMax);
    this.logger = opts.logger.child({ component: 'redis-stats', redis: redactRedisUrl(opts.url) });
    this.outage = new SinkOutageLog(this.logger, this.stats);
    this.client = connectRedis(
      opts.url,
      { commandTimeoutMs: COMMAND_TIMEOUT_MS, connectTimeoutMs: 2000 },
      {
        down: (err) => this.outageStarts(err),
        up: () => {
          this.holdUntilMs = 0;
          this.outageEnds();
          this.kick();
        },
      },
    );
    defineStatsScript(this.client);
    this.timer = setInterval(() => this.kick(), this.opts.flushMs);
    this.timer.unref();
  }

  /** Queues one record. Synchronous, never throws, never touches the network. */
  push(record: SessionRecord): void {
    try {
      if (this.closing) {
        // Counted as dropped so the arithmetic still holds for late records.
        this.stats.pushed++;
        this.stats.dropped++;
        return;
      }
      this.stats.pushed++;
      this.stats.dropped += this.queue.push(record, this.inFlight);
      this.stats.buffered = this.queue.length + this.inFlight;
      // Deferred: building a pipeline of a whole batch must not run inside the caller's push().
      if (this.queue.length >= this.opts.batchSize && !this.kickScheduled) {
        this.kickScheduled = true;
        setImmediate(() => {
          this.kickScheduled = false;
          this.kick();
        });
      }
    } catch {
      // A stats failure must never reach the transfer that produced the record.
    }
  }

  /** Flushes what it can within closeTimeoutMs, then disconnects. */
  async close(): Promise<void> {
    if (this.closing) return;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    const deadline = performance.now() + this.opts.closeTimeoutMs;
    while (performance.now() < deadline && (this.queue.length > 0 || this.flushing)) {
      if (this.client.status !== 'ready' && !this.flushing) {
        await sleep(Math.min(50, deadline - performance.now()));
        continue;
      }
      this.holdUntilMs = 0;
      this.kick();
      const left = deadline - performance.now();
      if (this.flushing && left > 0) await Promise.race([this.flushing, sleep(left)]);
    }
    this.closing = true;
    if (this.client.status === 'ready') {
      await Promise.race([this.client.quit().catch(() => undefined), sleep(500)]);
    }
    this.client.disconnect();
  }

  /** Starts the flush loop unless it is running, Redis is not ready, or a failure holds it. */
  private kick(): void {
    if (this.flushing || this.closing || this.queue.length === 0) return;
    if (this.client.status !== 'ready' || performance.now() < this.holdUntilMs) return;
    this.flushing = this.flushLoop().finally(() => {
      this.flushing = undefined;
    });
  }

  private async flushLoop(): Promise<void> {
    while (this.queue.length > 0 && this.client.status === 'ready' && performance.now() >= this.holdUntilMs) {
      const batch = this.queue.take(this.opts.batchSize);
      const n = batch.length;
      this.inFlight = n;
      const ok = await this.send(batch);
      this.inFlight = 0;
      if (ok) {
        this.stats.flushed += n;
        this.stats.batches++;
        // A hung Redis (timeouts on an open socket) never emits 'ready': a batch getting
        // through is what ends that kind of outage.
        this.outageEnds();
      } else {
        this.stats.flushErrors++;
        // Back to the front, oldest first, under the same bound.
        this.stats.dropped += this.queue.putBack(batch);
      }
      this.stats.buffered = this.queue.length;
      if (!ok) return;
    }
  }

  /** Sends one batch (stats-pipeline.ts); false when it must be retried. */
  private async send(batch: SessionRecord[]): Promise<boolean> {
    const error = await sendStatsBatch(this.client, batch, this.opts, this.keys, this.logger);
    if (!error) return true;
    this.holdUntilMs = performance.now() + RETRY_AFTER_FAILURE_MS;
    this.outageStarts(error);
    return false;
  }

  private outageStarts(err: Error): void {
    if (!this.closing) this.outage.down(err);
  }

  private outageEnds(): void {
    if (!this.closing) this.outage.up();
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)).unref());
}
