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
 *   └─ stats:{TAG}:                  the stats keys, in the stream's Redis Cluster slot:
 *      ├─ gateways                   gateway id → last record time (hash)
 *      └─ {gw,fn,top:file,top:peer}:…:MINUTE   per-minute counters
 *
 * The store adds REDIS_KEY_PREFIX itself: callers of a KvStore pass the part after it.
 *
 * Redis Cluster (docs/REDIS.md). A multi-key command, a script or an ioredis pipeline must
 * touch one slot. The cache and env.kv send one key per command, so their keys need no hash
 * tag. The stats sink writes a batch (the stream script, the counters and the gateways hash)
 * as one pipeline, and `tftpfn stats` reads the counters as one: every stats key carries the
 * stream key's hash tag, `{TAG}` = the stream key itself when it has no tag of its own (so the
 * default stream keeps its name, `tftpfn:sessions`, and `{tftpfn:sessions}` hashes to its slot).
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

/**
 * The part of a key Redis Cluster hashes (CLUSTER KEYSLOT): the text between the first `{` and
 * the next `}` when that is not empty, else the whole key.
 */
export function hashTagOf(key: string): string {
  const open = key.indexOf('{');
  if (open >= 0) {
    const close = key.indexOf('}', open + 1);
    if (close > open + 1) return key.slice(open + 1, close);
  }
  return key;
}

/**
 * Keys the stats sink writes, for readers (the CLI) and tests: all in the slot of `streamKey`
 * (see the header). A stream key whose braces hold no tag (`a{}b`, `a}b{`) cannot be put in a
 * tag of its own; such a key is refused, naming statsStreamKey.
 */
export function statsKeys(prefix: string = REDIS_KEY_PREFIX, streamKey: string = STATS_STREAM_KEY) {
  const tag = hashTagOf(streamKey);
  if (tag.includes('{') || tag.includes('}')) {
    throw new Error(`statsStreamKey "${streamKey}": braces must enclose a Redis Cluster hash tag, e.g. "tftpfn:{stats}:sessions", or be left out`);
  }
  const at = `${prefix}stats:{${tag}}:`;
  return {
    gateways: `${at}gateways`,
    gateway: (id: string, minute: number) => `${at}gw:${id}:${minute}`,
    fn: (name: string, minute: number) => `${at}fn:${name}:${minute}`,
    topFile: (minute: number) => `${at}top:file:${minute}`,
    topPeer: (minute: number) => `${at}top:peer:${minute}`,
  };
}
