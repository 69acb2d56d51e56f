/**
 * One way to open a Redis connection for the gateway (the cache, the stats sink and the control
 * plane each keep their own), whichever the topology (redis-spec.ts: one server, a
 * Sentinel-managed master, or a Redis Cluster), with one failure behaviour for all three:
 *   - fail fast while disconnected (`enableOfflineQueue: false`: a call while the connection or
 *     the cluster is not ready is rejected at once instead of queued);
 *   - never replay a command after a reconnect (`maxRetriesPerRequest: 0`; on a Cluster also
 *     `retryDelayOnFailover: 0` and `retryDelayOnClusterDown: 0`, so a command whose node is
 *     gone, or that meets CLUSTERDOWN, fails at once instead of being re-sent every 100 ms up
 *     to 16 times; MOVED and ASK redirections are still followed: that is routing, not replay);
 *   - retry forever with capped backoff (`reconnectDelayMs`), and
 *   - report outages as two calls, down(err) and up(); `./outage.ts` turns them into one
 *     logged outage.
 *
 * `duplicateRedis()` opens a second connection like the first (same topology, same options,
 * the same events), e.g. for a pub/sub subscriber: with the offline queue off, subscribe once
 * the duplicate is ready; ioredis subscribes again by itself after each reconnect.
 */
import { createRequire } from 'node:module';
import type { Cluster, Redis } from 'ioredis';
import { parseRedisUrl, type RedisSpec } from './redis-spec.js';

export { redactRedisUrl } from './redis-spec.js';

/** A connection of any topology: both kinds take the same commands and emit the same events. */
export type RedisClient = Redis | Cluster;

/**
 * ioredis, loaded by the first connection rather than with this module (issue 13,
 * docs/PERFORMANCE.md "Idle memory"): it costs about 25 MiB of RSS, and a gateway without
 * redisUrl, or a CLI command that never talks to Redis, has no use for it. A synchronous
 * require keeps connectRedis synchronous; ioredis is CommonJS without an exports map, so this
 * is the same module instance an `import` of it gets (one Cluster class for instanceof).
 */
let ioredis: typeof import('ioredis') | undefined;
function loadIoredis(): typeof import('ioredis') {
  ioredis ??= createRequire(import.meta.url)('ioredis') as typeof import('ioredis');
  return ioredis;
}

/** Whether `client` is a Redis Cluster connection (one `instanceof` without importing ioredis eagerly). */
export function isCluster(client: RedisClient): client is Cluster {
  return client instanceof loadIoredis().Cluster;
}

const MAX_RECONNECT_DELAY_MS = 2000;

/** Reconnect delay for the nth attempt in a row: grows by 100 ms, capped, never gives up. */
export function reconnectDelayMs(attempt: number): number {
  return Math.min(attempt * 100, MAX_RECONNECT_DELAY_MS);
}

export interface RedisEvents {
  /** The connection is lost (or never came up); `err` is the cause last seen. */
  down(err: Error): void;
  /** The connection is ready again. */
  up(): void;
}

export interface RedisConnectOptions {
  /** A command on an open but silent connection fails after this long (unset: no bound). */
  commandTimeoutMs?: number;
  /** A Redis (or Sentinel) that accepts TCP but never answers the handshake fails after this long. */
  connectTimeoutMs: number;
  /** Delay before reconnect attempt n, or null to give up (one-shot CLI commands). Default reconnectDelayMs. */
  retryStrategy?: (attempt: number) => number | null;
  /** Connect on the first connect() call instead of at once. */
  lazyConnect?: boolean;
}

export function connectRedis(target: string | RedisSpec, opts: RedisConnectOptions, on?: RedisEvents): RedisClient {
  const spec = typeof target === 'string' ? parseRedisUrl(target) : target;
  const retry = opts.retryStrategy ?? reconnectDelayMs;
  const perConnection = {
    commandTimeout: opts.commandTimeoutMs,
    // Commands in flight when the socket closes fail; a stale SET is never replayed.
    maxRetriesPerRequest: 0,
    connectTimeout: opts.connectTimeoutMs,
    // RESP2: plain replies, and the handshake does not depend on HELLO support.
    protocol: 2 as const,
  };
  const { Cluster, Redis } = loadIoredis();
  let client: RedisClient;
  switch (spec.kind) {
    case 'single':
      client = new Redis(spec.url, { ...perConnection, enableOfflineQueue: false, retryStrategy: retry, lazyConnect: opts.lazyConnect });
      break;
    case 'sentinel':
      client = new Redis({
        ...perConnection,
        enableOfflineQueue: false,
        retryStrategy: retry,
        lazyConnect: opts.lazyConnect,
        sentinels: spec.sentinels.map((s) => ({ host: s.host, port: s.port })),
        name: spec.name,
        db: spec.db,
        username: spec.username,
        password: spec.password,
        // Every Sentinel unreachable: the same capped backoff, not ioredis's own.
        sentinelRetryStrategy: retry,
        sentinelCommandTimeout: opts.connectTimeoutMs,
        // Listen for +switch-master so a failover is followed at once, not at the next error.
        failoverDetector: true,
      });
      break;
    case 'cluster':
      client = new Cluster(
        spec.nodes.map((n) => ({ host: n.host, port: n.port })),
        {
          enableOfflineQueue: false,
          clusterRetryStrategy: retry,
          // A command whose node is gone fails at once, as one server's would, instead of being
          // re-sent every 100 ms up to maxRedirections (16) times while a failover may happen:
          // measured with one of three masters killed, that turned reads of its slots into
          // 500 ms command timeouts and the cache flapped between outage and recovery; with
          // these, the worst call took 5 ms and the other masters' keys kept hitting.
          retryDelayOnFailover: 0,
          retryDelayOnClusterDown: 0,
          lazyConnect: opts.lazyConnect,
          slotsRefreshTimeout: opts.connectTimeoutMs,
          redisOptions: { ...perConnection, username: spec.username, password: spec.password },
        },
      );
      break;
  }
  if (on) watchConnection(client, on);
  return client;
}

/** A cluster node still opening its connection. */
const OPENING = new Set(['wait', 'connecting', 'connect']);

/** A second connection like `client` (topology and options), reporting to `on`: e.g. a subscriber. */
export function duplicateRedis(client: RedisClient, on?: RedisEvents): RedisClient {
  const copy: RedisClient = isCluster(client) ? client.duplicate() : client.duplicate();
  if (on) watchConnection(copy, on);
  else copy.on('error', () => undefined);
  return copy;
}

/**
 * Turns a connection's events into down()/up(). A Cluster's 'close' means every node is gone and
 * 'ready' that its slots are known again; one failed node of a ready cluster ('node error') is
 * not an outage of the whole: its slots fail on their own until the cluster moves them.
 */
function watchConnection(client: RedisClient, on: RedisEvents): void {
  let lastError: Error | undefined;
  // Without an 'error' listener ioredis prints every failed reconnect to the console. A socket
  // error on a ready connection (ECONNRESET) comes just before its 'close': keep it, so the
  // outage names the cause rather than "connection closed".
  client.on('error', (err: Error) => {
    lastError = err;
    if (client.status !== 'ready') on.down(err);
  });
  client.on('close', () => on.down(lastError ?? new Error('connection closed')));
  client.on('ready', () => {
    lastError = undefined;
    on.up();
  });
}

/**
 * Resolves true once `client` is ready, false after `timeoutMs` (never rejects).
 *
 * A Cluster is ready when its slot map is known, but ioredis opens a node's connection only at
 * the node's first command, and with the offline queue off it refuses ('Connection is closed.')
 * every other command for that node until the connection is up: a burst of first reads lost
 * most of them (measured: 60 concurrent GETs right after 'ready', 36-37 bypassed in each of
 * five runs; 0 after this). So here every
 * master connects now, and this resolves once none is still opening. Call it before a burst
 * (the gateway's start, a CLI command); a lone command on a cold node is fine without it.
 */
export async function whenRedisReady(client: RedisClient, timeoutMs: number): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  if (!(await whenStatusReady(client, timeoutMs))) return false;
  if (!isCluster(client)) return true;
  for (const node of client.nodes('master')) if (node.status === 'wait') node.connect().catch(() => undefined);
  // Bounded: a master that is down ends its attempt ('end'), so this loop does not wait for it.
  while (client.nodes('master').some((n) => OPENING.has(n.status))) {
    if (performance.now() >= deadline) return false;
    await new Promise((r) => setTimeout(r, 5));
  }
  return client.status === 'ready';
}

function whenStatusReady(client: RedisClient, timeoutMs: number): Promise<boolean> {
  if (client.status === 'ready') return Promise.resolve(true);
  return new Promise((resolve) => {
    const done = (ok: boolean) => {
      clearTimeout(timer);
      client.off('ready', onReady);
      resolve(ok);
    };
    const onReady = () => done(true);
    const timer = setTimeout(() => done(false), timeoutMs);
    timer.unref?.();
    client.once('ready', onReady);
  });
}
