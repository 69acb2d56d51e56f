/**
 * One way to open a Redis connection for the gateway (the cache and the stats sink each keep
 * their own, and a control plane will too): fail fast while disconnected, never replay a
 * command after a reconnect, retry forever with capped backoff, and report outages as two
 * calls, down(err) and up(). `./outage.ts` turns those calls into one logged outage.
 */
import { Redis } from 'ioredis';

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

export function connectRedis(url: string, opts: { commandTimeoutMs: number; connectTimeoutMs: number }, on: RedisEvents): Redis {
  const client = new Redis(url, {
    // A command while disconnected fails at once instead of waiting for a reconnect.
    enableOfflineQueue: false,
    commandTimeout: opts.commandTimeoutMs,
    // Commands in flight when the socket closes fail; a stale SET is never replayed.
    maxRetriesPerRequest: 0,
    retryStrategy: reconnectDelayMs,
    // A Redis that accepts TCP but never answers the handshake must not hold a connect forever.
    connectTimeout: opts.connectTimeoutMs,
    // RESP2: plain replies, and the handshake does not depend on HELLO support.
    protocol: 2,
  });
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
  return client;
}

/** The URL with any password masked, fit for logs. */
export function redactRedisUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(invalid redis url)';
  }
}
