/**
 * Integrity tags on what the gateway caches in a shared store (issue 9, section 3).
 *
 * Anyone who can open a TCP connection to Redis can SET any key; without a tag a second
 * gateway then serves those bytes as, say, `images/vmlinuz`. So every cached value is stored
 * as
 *
 *    0      2        6                               38
 *    +------+--------+-------------------------------+------------------+
 *    | "T1" | key id |  HMAC-SHA256(fleet key, ...)  |  value bytes ... |
 *    +------+--------+-------------------------------+------------------+
 *
 * where the MAC covers a domain string, the store key (so a valid entry cannot be copied to
 * another key, e.g. chunk 0 of one file onto another file's chunk 0) and the value. The fleet
 * key lives in the gateways' config (`cacheHmacKey`), never in Redis. The key id (4 bytes of
 * an HMAC of a fixed label) names which key made a tag without revealing it, so the log can
 * say "written under another key" (a fleet with mixed keys) apart from "forged".
 *
 * A read whose tag does not verify is a miss, never an error: the caller fetches the true
 * bytes from the source and overwrites the entry. It counts in `stats.integrityFailures`
 * and is logged, sampled (the first, then at most one line per `logEveryMs` with a count), so
 * an attacker rewriting keys in a loop cannot flood the log.
 *
 * What a tag does not prove: when the bytes were written. Replaying an older valid entry of the
 * same key is possible; object chunks are keyed by ETag (their bytes never change), metadata
 * carries its own check time inside the tagged value, and function `cached()` entries are
 * the function's own earlier answers for that key.
 *
 * Which keys: `isTagged` decides (default: all but env.kv's 'kv:' namespace, which operators
 * write from outside the gateway with `tftpfn kv` or any Redis client). Untagged keys pass
 * through unchanged.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Logger } from 'pino';
import type { KvStats, KvStore } from './kv.js';
import { isEnvKvKey } from './keyspace.js';

const MAGIC = Buffer.from('T1', 'latin1');
const KEY_ID_BYTES = 4;
const MAC_BYTES = 32;
export const TAG_HEADER_BYTES = MAGIC.length + KEY_ID_BYTES + MAC_BYTES;
const DOMAIN = 'tftpfn cache v1\0';

/** Why a stored value was refused. */
export type IntegrityFailure = 'untagged' | 'other-key' | 'forged';

export interface TaggedKvOptions {
  /** The fleet key: the same bytes on every gateway sharing the store. At least 16 bytes. */
  readonly key: Uint8Array;
  readonly log: Logger;
  /** Which store keys carry tags. Default: every key except env.kv's ('kv:…'). */
  readonly isTagged?: (key: string) => boolean;
  /** At most one integrity log line per this many ms after the first. Default 10 000. */
  readonly logEveryMs?: number;
  /** ms clock for log sampling; injected by tests. */
  readonly now?: () => number;
}

export const MIN_CACHE_HMAC_KEY_BYTES = 16;

/** env.kv is operator data written outside the gateway: see the header comment. */
export const tagAllButEnvKv = (key: string): boolean => !isEnvKvKey(key);

/** A per-process key for when none is configured: safe, but not shared with any other gateway. */
export function randomCacheKey(): Buffer {
  return randomBytes(32);
}

export class TaggedKvStore implements KvStore {
  readonly kind: string;
  private readonly key: Buffer;
  private readonly keyId: Buffer;
  private readonly isTagged: (key: string) => boolean;
  private readonly log: Logger;
  private readonly logEveryMs: number;
  private readonly now: () => number;
  private lastLogMs = -Infinity;
  private unlogged = 0;

  constructor(readonly inner: KvStore, opts: TaggedKvOptions) {
    if (opts.key.byteLength < MIN_CACHE_HMAC_KEY_BYTES) throw new Error(`cache HMAC key must be at least ${MIN_CACHE_HMAC_KEY_BYTES} bytes`);
    this.kind = inner.kind;
    this.key = Buffer.from(opts.key);
    this.keyId = createHmac('sha256', this.key).update('tftpfn cache key id').digest().subarray(0, KEY_ID_BYTES);
    this.isTagged = opts.isTagged ?? tagAllButEnvKv;
    this.log = opts.log;
    this.logEveryMs = opts.logEveryMs ?? 10_000;
    this.now = opts.now ?? Date.now;
    inner.stats.integrityFailures ??= 0;
  }

  get available(): boolean {
    return this.inner.available;
  }

  /** The inner store's stats, plus integrityFailures (each also moved from hits to misses). */
  get stats(): KvStats {
    return this.inner.stats;
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    const stored = await this.inner.get(key);
    if (stored === undefined || !this.isTagged(key)) return stored;
    const verdict = this.open(key, stored);
    if (typeof verdict !== 'string') return verdict;
    // The inner store saw a hit; for every caller it is a miss.
    this.inner.stats.hits--;
    this.inner.stats.misses++;
    this.inner.stats.integrityFailures = (this.inner.stats.integrityFailures ?? 0) + 1;
    this.report(key, verdict, stored.byteLength);
    return undefined;
  }

  async set(key: string, value: Uint8Array, ttlSeconds?: number): Promise<void> {
    if (!this.isTagged(key)) return this.inner.set(key, value, ttlSeconds);
    const out = Buffer.allocUnsafe(TAG_HEADER_BYTES + value.byteLength);
    MAGIC.copy(out, 0);
    this.keyId.copy(out, MAGIC.length);
    this.mac(key, value).copy(out, MAGIC.length + KEY_ID_BYTES);
    out.set(value, TAG_HEADER_BYTES);
    return this.inner.set(key, out, ttlSeconds);
  }

  touch(key: string, ttlSeconds: number): Promise<void> {
    return this.inner.touch(key, ttlSeconds);
  }

  del(key: string): Promise<void> {
    return this.inner.del(key);
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  /** The value if its tag verifies, else why not. The value is a view: no copy. */
  private open(key: string, stored: Uint8Array): Uint8Array | IntegrityFailure {
    const buf = Buffer.isBuffer(stored) ? stored : Buffer.from(stored.buffer, stored.byteOffset, stored.byteLength);
    if (buf.byteLength < TAG_HEADER_BYTES || !buf.subarray(0, MAGIC.length).equals(MAGIC)) return 'untagged';
    if (!buf.subarray(MAGIC.length, MAGIC.length + KEY_ID_BYTES).equals(this.keyId)) return 'other-key';
    const value = buf.subarray(TAG_HEADER_BYTES);
    const tag = buf.subarray(MAGIC.length + KEY_ID_BYTES, TAG_HEADER_BYTES);
    return timingSafeEqual(tag, this.mac(key, value)) ? value : 'forged';
  }

  private mac(key: string, value: Uint8Array): Buffer {
    const h = createHmac('sha256', this.key);
    h.update(DOMAIN);
    // Length-prefixed key: "ab"+"c…" and "a"+"bc…" must not hash alike.
    const k = Buffer.from(key, 'utf8');
    const len = Buffer.allocUnsafe(4);
    len.writeUInt32BE(k.byteLength);
    h.update(len);
    h.update(k);
    h.update(value);
    return h.digest();
  }

  private report(key: string, reason: IntegrityFailure, bytes: number): void {
    const nowMs = this.now();
    if (nowMs - this.lastLogMs < this.logEveryMs) {
      this.unlogged++;
      return;
    }
    const suppressed = this.unlogged;
    this.unlogged = 0;
    this.lastLogMs = nowMs;
    // The key names a bucket object or a function's cache entry: fine for the operator's log.
    this.log.warn(
      { event: 'cacheIntegrityFailure', key, reason, bytes, suppressed, total: this.inner.stats.integrityFailures },
      reason === 'other-key'
        ? 'cache entry written under another cacheHmacKey: treated as a miss (do all gateways share one key?)'
        : 'cache entry failed its integrity check: treated as a miss',
    );
  }
}
