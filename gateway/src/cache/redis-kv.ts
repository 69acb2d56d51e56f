/**
 * The Redis KvStore, shared by every gateway on the same Redis.
 *
 * Theory of operation. Redis is an optimisation: when it is down or hung, transfers go on
 * straight from the source. So no call may reject or wait long:
 *   - while the connection is not ready, calls are answered at once (a miss, or a dropped
 *     write) without touching the client; `enableOfflineQueue: false` makes ioredis fail the
 *     same way for calls that race a disconnect, instead of queueing them until reconnect;
 *   - `commandTimeout` bounds a call on a connection that is up but silent (a hung or
 *     SIGSTOPped Redis). A timeout starts an outage too, and a PING probe ends it, so after the
 *     first timed-out calls the rest are answered at once rather than each waiting the timeout;
 *   - `maxRetriesPerRequest: 0` fails calls in flight when the connection drops, rather than
 *     replaying them (a stale SET replayed after a later DEL) on reconnect;
 *   - the client reconnects forever with a capped backoff, so caching resumes by itself.
 *
 * States: connecting (before the first ready; calls bypass, nothing logged) → up → outage
 * (one warn line at the start) → up (one info line: how long, how many calls bypassed) → …
 * `available` is true only when up. Keys get `keyPrefix`; `client` is the raw, unprefixed
 * connection, for stream writes (stats) that want to share it.
 *
 * Every command names one key, so the store works unchanged on a Redis Cluster (no hash tags
 * needed; cache/keyspace.ts) and behind Sentinel (redis/connection.ts).
 */
import { connectRedis, redactRedisUrl, whenRedisReady, type RedisClient } from '../redis/connection.js';
import { RedisOutage } from '../redis/outage.js';
import { REDIS_KEY_PREFIX } from './keyspace.js';
import type { Logger } from '../logging.js';
import type { KvStats, KvStore } from './kv.js';

export interface RedisKvOptions {
  /** `redis://[user:password@]host:port/db`, `redis-sentinel://…` or `redis-cluster://…` (redis/redis-spec.ts). */
  url: string;
  /** Prepended to every key. Default `tftpfn:`. */
  keyPrefix?: string;
  /** Longest a call waits for Redis before it counts as a miss or a dropped write. Default 500. */
  commandTimeoutMs?: number;
  logger: Logger;
}

/** The gateway-wide key prefix (cache/keyspace.ts), kept under its old name for importers. */
export const DEFAULT_REDIS_KEY_PREFIX = REDIS_KEY_PREFIX;
export const DEFAULT_REDIS_COMMAND_TIMEOUT_MS = 500;
/** Moved to redis/connection.ts; re-exported for the CLI commands that import it from here. */
export { redactRedisUrl };

export class RedisKvStore implements KvStore {
  readonly kind = 'redis';
  readonly stats: KvStats = { hits: 0, misses: 0, bypassed: 0, errors: 0 };
  readonly client: RedisClient;
  readonly keyPrefix: string;
  readonly commandTimeoutMs: number;
  private readonly logger: Logger;
  /** An outage in progress has been logged, and its end will be. */
  private readonly outage = new RedisOutage();
  private bypassedAtDown = 0;
  /** Set after a command timeout while the socket is still up: calls bypass until a PING answers. */
  private hung = false;
  private probeTimer: NodeJS.Timeout | undefined;
  private closing = false;

  constructor(opts: RedisKvOptions) {
    this.keyPrefix = opts.keyPrefix ?? DEFAULT_REDIS_KEY_PREFIX;
    this.commandTimeoutMs = opts.commandTimeoutMs ?? DEFAULT_REDIS_COMMAND_TIMEOUT_MS;
    this.logger = opts.logger.child({ component: 'redis-kv', redis: redactRedisUrl(opts.url) });
    this.client = connectRedis(
      opts.url,
      { commandTimeoutMs: this.commandTimeoutMs, connectTimeoutMs: Math.max(1000, this.commandTimeoutMs * 4) },
      {
        down: (err) => this.outageStarts(err),
        up: () => {
          this.hung = false;
          this.outageEnds();
        },
      },
    );
  }

  /**
   * Resolves once the first connection is ready, or after `timeoutMs` (never rejects): a gateway
   * waits this long at start so its first requests use the shared cache rather than bypass it.
   */
  whenConnected(timeoutMs: number): Promise<boolean> {
    return whenRedisReady(this.client, timeoutMs);
  }

  get available(): boolean {
    return this.client.status === 'ready' && !this.hung && !this.closing;
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    if (!this.available) {
      this.stats.bypassed++;
      return undefined;
    }
    try {
      const value = await this.client.getBuffer(this.keyPrefix + key);
      if (value === null) {
        this.stats.misses++;
        return undefined;
      }
      this.stats.hits++;
      return value;
    } catch (err) {
      this.failed(err);
      return undefined;
    }
  }

  async set(key: string, value: Uint8Array, ttlSeconds?: number): Promise<void> {
    // Buffer.from(arrayBuffer, offset, length) shares memory: no copy of a large value.
    const bytes = Buffer.isBuffer(value) ? value : Buffer.from(value.buffer, value.byteOffset, value.byteLength);
    const k = this.keyPrefix + key;
    await this.run(() =>
      ttlSeconds && ttlSeconds > 0 ? this.client.set(k, bytes, 'EX', wholeSeconds(ttlSeconds)) : this.client.set(k, bytes),
    );
  }

  /** EXPIRE; `ttlSeconds` 0 removes the expiry (as `set`), since EXPIRE 0 would delete the key. */
  async touch(key: string, ttlSeconds: number): Promise<void> {
    const k = this.keyPrefix + key;
    await this.run(() => (ttlSeconds > 0 ? this.client.expire(k, wholeSeconds(ttlSeconds)) : this.client.persist(k)));
  }

  async del(key: string): Promise<void> {
    await this.run(() => this.client.del(this.keyPrefix + key));
  }

  /** Quits politely when connected (bounded by the command timeout), else just disconnects. */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    this.stopProbe();
    if (this.client.status === 'ready' && !this.hung) {
      const quit = this.client.quit().catch(() => undefined);
      const bounded = new Promise((resolve) => setTimeout(resolve, this.commandTimeoutMs).unref());
      await Promise.race([quit, bounded]);
    }
    this.client.disconnect();
  }

  private async run(command: () => Promise<unknown>): Promise<void> {
    if (!this.available) {
      this.stats.bypassed++;
      return;
    }
    try {
      await command();
    } catch (err) {
      this.failed(err);
    }
  }

  /** Sorts a rejected call: the connection failing is a bypass, anything else (a ReplyError) an error. */
  private failed(err: unknown): void {
    const error = err instanceof Error ? err : new Error(String(err));
    if (error.name === 'ReplyError') {
      this.stats.errors++;
      return;
    }
    this.stats.bypassed++;
    if (error.message === 'Command timed out' && this.client.status === 'ready' && !this.closing) {
      // The socket is up but Redis is silent: stop sending until a PING gets through.
      this.hung = true;
      this.outageStarts(error);
      this.startProbe();
    }
  }

  private outageStarts(err: Error): void {
    if (this.closing || this.outage.active) return;
    this.outage.start();
    this.bypassedAtDown = this.stats.bypassed;
    this.logger.warn({ event: 'redisUnavailable', err }, 'redis unavailable: cache bypassed');
  }

  private outageEnds(): void {
    this.stopProbe();
    if (!this.outage.active || this.closing) return;
    const downMs = this.outage.end();
    const bypassed = this.stats.bypassed - this.bypassedAtDown;
    this.logger.info({ event: 'redisReconnected', downMs, bypassed }, 'redis reconnected: cache resumed');
  }

  /** While hung: PING every command timeout; the first answer ends the outage. */
  private startProbe(): void {
    if (this.probeTimer) return;
    const tick = () => {
      this.client.ping().then(
        () => {
          if (!this.hung || this.client.status !== 'ready') return;
          this.hung = false;
          this.outageEnds();
        },
        () => undefined,
      );
    };
    this.probeTimer = setInterval(tick, this.commandTimeoutMs);
    this.probeTimer.unref();
  }

  private stopProbe(): void {
    if (this.probeTimer) clearInterval(this.probeTimer);
    this.probeTimer = undefined;
  }
}

/** EX takes whole seconds; round up so a short TTL never becomes "no expiry" or a delete. */
function wholeSeconds(ttlSeconds: number): number {
  return Math.max(1, Math.ceil(ttlSeconds));
}
