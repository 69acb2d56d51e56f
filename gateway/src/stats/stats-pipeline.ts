/**
 * One batch of session records sent to Redis as ONE pipeline (no MULTI: a batch is a single
 * round trip, atomicity buys nothing here): the script call that appends every record to the
 * stream, the per-minute counters, and the gateway's last-seen time. stats-batch.ts computes
 * what the batch becomes; this file puts it on the connection and says whether to retry;
 * redis-sink.ts decides when batches go.
 */
import type { Logger } from '../logging.js';
import type { statsKeys } from '../cache/keyspace.js';
import type { RedisClient } from '../redis/connection.js';
import type { SessionRecord } from './session-record.js';
import { buildStatsBatch, XADD_BATCH_LUA } from './stats-batch.js';

export interface StatsPipelineOptions {
  readonly gatewayId: string;
  readonly streamKey: string;
  /** Approximate stream length cap (XADD MAXLEN ~). */
  readonly maxLen: number;
  /** TTL set on every counter key a batch touches. */
  readonly counterTtlSeconds: number;
}

/** Registers the batch script on a connection: EVALSHA with a fallback to EVAL when Redis does not have it yet (ioredis does both). */
export function defineStatsScript(client: RedisClient): void {
  client.defineCommand('tftpfnXaddBatch', { numberOfKeys: 1, lua: XADD_BATCH_LUA });
}

/**
 * Sends one batch; resolves undefined when it is done with (acknowledged, or refused by a
 * reply error that a retry would meet again), else the error to retry after.
 */
export async function sendStatsBatch(
  client: RedisClient,
  batch: SessionRecord[],
  opts: StatsPipelineOptions,
  keys: ReturnType<typeof statsKeys>,
  logger: Logger,
): Promise<Error | undefined> {
  const pipe = client.pipeline();
  const { streamKey, counterTtlSeconds: ttl, gatewayId } = opts;
  const { streamArgs, hashes, zsets, lastSeenMs } = buildStatsBatch(batch, opts, keys);
  (pipe as unknown as { tftpfnXaddBatch(key: string, ...args: (string | number)[]): unknown }).tftpfnXaddBatch(streamKey, ...streamArgs);
  for (const [key, fields] of hashes) {
    for (const [field, by] of fields) if (by !== 0) pipe.hincrby(key, field, by);
    pipe.expire(key, ttl);
  }
  for (const [key, members] of zsets) {
    for (const [member, by] of members) pipe.zincrby(key, by, member);
    pipe.expire(key, ttl);
  }
  pipe.hset(keys.gateways, gatewayId, String(lastSeenMs));
  pipe.expire(keys.gateways, ttl);
  try {
    const results = await pipe.exec();
    if (!results) throw new Error('pipeline discarded');
    const failed = results.find(([err]) => err);
    if (failed) {
      const err = failed[0] as Error;
      // A ReplyError (WRONGTYPE on a key someone else owns) would fail again forever: count
      // the batch as flushed-with-errors rather than retry it; the connection is fine.
      if (err.name === 'ReplyError') {
        logger.error({ event: 'statsReplyError', err }, 'redis refused part of a stats batch');
        return undefined;
      }
      throw err;
    }
    return undefined;
  } catch (err) {
    return err instanceof Error ? err : new Error(String(err));
  }
}
