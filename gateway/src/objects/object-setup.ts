/**
 * Builds the object store and the key-value store a gateway config asks for: S3 or a local
 * folder standing in for buckets; Redis or an in-memory LRU. The embedded default needs
 * neither S3 nor Redis.
 */
import { existsSync } from 'node:fs';
import type { Logger } from 'pino';
import type { GatewayConfig } from '../config/schema.js';
import type { KvStore } from '../cache/kv.js';
import { MemoryKvStore } from '../cache/memory-kv.js';
import { RedisKvStore } from '../cache/redis-kv.js';
import { randomCacheKey, TaggedKvStore } from '../cache/tagged-kv.js';
import { LocalBucketStore } from './local-bucket.js';
import { ObjectSource } from './object-source.js';
import type { ObjectStore } from './object-store.js';
import { S3ObjectStore } from './s3-store.js';
import { s3StoreOptions } from './s3-options.js';

export interface ObjectSetup {
  readonly kv: KvStore;
  /** Resolves when Redis (if configured) first connects, or after a short bound. */
  readonly connected: Promise<void>;
  /** Undefined when no store is configured and the default buckets folder does not exist. */
  readonly objects: ObjectSource | undefined;
  close(): Promise<void>;
}

export function createObjectSetup(config: GatewayConfig, log: Logger): ObjectSetup {
  const redis = config.redisUrl ? new RedisKvStore({ url: config.redisUrl, logger: log }) : undefined;
  const kv: KvStore = redis ? tagged(redis, config, log) : new MemoryKvStore({ maxBytes: config.memoryKvMaxBytes });
  let store: ObjectStore | undefined;
  if (config.objectStore === 's3') {
    store = new S3ObjectStore(s3StoreOptions(config));
  } else if (existsSync(config.bucketsDir)) {
    store = new LocalBucketStore(config.bucketsDir);
  } else {
    // Not an error: most folder-serving gateways never touch a bucket. Said once, at start, and
    // at info only when a route asks for a bucket (a function's s3Object() is not known here).
    const asksForBuckets = [...config.routes, config.defaultRoute].some((r) => typeof r === 'object' && r !== null && 'bucket' in r && r.bucket !== undefined);
    log[asksForBuckets ? 'info' : 'debug']({ event: 'noObjectStore', bucketsDir: config.bucketsDir }, `no object store: ${config.bucketsDir} does not exist and objectStore is "local"; s3Object() responses and bucket routes are unavailable`);
  }
  const objects = store
    ? new ObjectSource(
        store,
        kv,
        {
          chunkBytes: config.cacheChunkBytes,
          wholeObjectMaxBytes: config.cacheWholeMaxBytes,
          memoryBytes: config.cacheMemoryBytes,
          cacheTtlSeconds: config.cacheTtlSeconds,
          freshnessMs: config.cacheFreshnessMs,
          upstreamAttempts: config.upstreamAttempts,
          readAheadBytes: config.readAheadBytes,
          // Within two of the client's retransmit timeouts, a stalled bucket ends the transfer.
          midTransferWaitMs: Math.max(250, Math.round(config.timeoutMs * 1.5)),
        },
        log,
      )
    : undefined;
  return {
    kv,
    // A gateway that answered before its Redis connection was up would fetch from the bucket
    // what the fleet already cached; a down Redis costs start-up at most this second.
    connected: redis ? redis.whenConnected(1000).then(() => undefined) : Promise.resolve(),
    objects,
    async close() {
      await store?.close();
      await kv.close();
    },
  };
}

/**
 * Redis is reachable by more than the gateways, so what they cache there carries an HMAC tag
 * (cache/tagged-kv.ts). The in-memory store needs none: only this process can write it.
 * Without a configured fleet key the tag key is random, per process: nothing another Redis
 * client writes is ever served, at the price of not sharing entries with other gateways
 * (each one's entries are misses for the others). Deriving a key from anything else the
 * gateways share (S3 credentials, the config file) would tie the cache's safety to secrets
 * that may not exist (instance roles) or that functions were once able to read.
 */
function tagged(redis: RedisKvStore, config: GatewayConfig, log: Logger): KvStore {
  if (!config.cacheHmacKey) {
    log.warn(
      { event: 'cacheHmacKeyMissing' },
      'redisUrl is set but cacheHmacKey is not: this gateway tags its Redis cache entries with a random key of its own, so no other gateway shares them; set cacheHmacKey (or TFTPFN_CACHE_HMAC_KEY) to the same secret on every gateway, e.g. the output of `openssl rand -hex 32`',
    );
  }
  const key = config.cacheHmacKey ? Buffer.from(config.cacheHmacKey, 'utf8') : randomCacheKey();
  return new TaggedKvStore(redis, { key, log: log.child({ component: 'cache-integrity' }) });
}
