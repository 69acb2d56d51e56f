/**
 * Every key the gateway keeps in the shared store, in one place. A fleet shares one Redis, so
 * a prefix written here is an interface: `tftpfn kv`, `tftpfn stats`, `tftpfn tail` and other
 * gateways read what these build.
 *
 *   tftpfn:                          every key (RedisKvStore keyPrefix; stats counter keys)
 *   ├─ kv:KEY                        env.kv: shared by all functions, written by operators
 *   │                                (`tftpfn kv`), so never integrity-tagged (tagged-kv.ts)
 *   ├─ cached:FUNCTION:KEY           a function's cached() answers, private to it
 *   ├─ meta:BUCKET/KEY               an object's size and ETag, with the time it was checked
 *   ├─ obj:BUCKET/KEY@ETAG:BYTES:N   chunk N (BYTES each) of one object version
 *   ├─ sessions                      the stats stream (statsStreamKey, configured whole)
 *   ├─ gateways                      gateway id → last record time (hash)
 *   └─ stats:{gw,fn,top:file,top:peer}:…:MINUTE   per-minute counters
 *
 * The store adds REDIS_KEY_PREFIX itself: callers of a KvStore pass the part after it.
 */

/** Prepended by RedisKvStore to every key, and to the stats counter keys. */
export const REDIS_KEY_PREFIX = 'tftpfn:';

/** env.kv's namespace (operator data, shared by every function). */
export const ENV_KV_NAMESPACE = 'kv:';
/** cached()'s namespace; one sub-namespace per function. */
export const CACHED_NAMESPACE = 'cached:';
/** Object metadata (HEAD results) shared by the fleet. */
export const OBJECT_META_NAMESPACE = 'meta:';
/** Object bytes, by version and chunk. */
export const OBJECT_CHUNK_NAMESPACE = 'obj:';

/** The stats stream, whole (statsStreamKey's default). */
export const STATS_STREAM_KEY = `${REDIS_KEY_PREFIX}sessions`;

/** A key of env.kv. */
export const envKvKey = (key: string): string => `${ENV_KV_NAMESPACE}${key}`;
/** A key of one function's cached(). */
export const cachedKey = (functionName: string, key: string): string => `${CACHED_NAMESPACE}${functionName}:${key}`;
/** The shared metadata of one object (`ref` is BUCKET/KEY). */
export const objectMetaKey = (ref: string): string => `${OBJECT_META_NAMESPACE}${ref}`;
/** One chunk of one object version. */
export const objectChunkKey = (ref: string, etag: string, chunkBytes: number, index: number): string =>
  `${OBJECT_CHUNK_NAMESPACE}${ref}@${etag}:${chunkBytes}:${index}`;

/** True for env.kv keys: operator data the integrity tags leave alone. */
export const isEnvKvKey = (key: string): boolean => key.startsWith(ENV_KV_NAMESPACE);

/** Keys the stats sink writes, for readers (the CLI) and tests. */
export function statsKeys(prefix: string = REDIS_KEY_PREFIX) {
  return {
    gateways: `${prefix}gateways`,
    gateway: (id: string, minute: number) => `${prefix}stats:gw:${id}:${minute}`,
    fn: (name: string, minute: number) => `${prefix}stats:fn:${name}:${minute}`,
    topFile: (minute: number) => `${prefix}stats:top:file:${minute}`,
    topPeer: (minute: number) => `${prefix}stats:top:peer:${minute}`,
  };
}
