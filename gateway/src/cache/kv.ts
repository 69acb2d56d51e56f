/**
 * The key-value store behind the shared object cache, `cached()` and `env.kv`: Redis when
 * configured (shared by every gateway on it), an in-memory LRU in the embedded default.
 *
 * The contract that makes an outage harmless: no method ever rejects because the store is
 * down or slow. A read that cannot be answered is a miss (undefined); a write that cannot be
 * made is dropped. Callers count on that and never wrap calls in try/catch for availability.
 */
export interface KvStats {
  hits: number;
  misses: number;
  /** Calls answered as a miss or dropped because the store was unavailable. */
  bypassed: number;
  errors: number;
  /**
   * Reads refused because the value's integrity tag did not verify (cache/tagged-kv.ts): each
   * is also a miss. Absent on a store with no tagging in front of it.
   */
  integrityFailures?: number;
}

export interface KvStore {
  /** 'redis' or 'memory'; for stats and logs. */
  readonly kind: string;
  /** False while the store is known to be down (reads miss, writes are dropped). */
  readonly available: boolean;
  readonly stats: KvStats;
  get(key: string): Promise<Uint8Array | undefined>;
  /** `ttlSeconds` 0 or absent: no expiry. */
  set(key: string, value: Uint8Array, ttlSeconds?: number): Promise<void>;
  /** Re-arms a key's TTL on a hit, so hot entries stay (LRU-friendly). */
  touch(key: string, ttlSeconds: number): Promise<void>;
  del(key: string): Promise<void>;
  close(): Promise<void>;
}
