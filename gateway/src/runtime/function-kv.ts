/**
 * A function's view of the key-value store (env.kv and cached()), over the key layout of
 * cache/keyspace.ts.
 */
import { cachedKey, envKvKey } from '../cache/keyspace.js';
import type { KvStore } from '../cache/kv.js';
import type { FunctionKv } from './invoker.js';

/**
 * A function's view of the key-value store: env.kv keys under 'kv:' (shared by all functions,
 * e.g. an inventory), cached() keys under 'cached:NAME:' (private), so no function can reach
 * the gateway's own object cache entries.
 */
export function functionKv(store: KvStore, name: string): FunctionKv {
  return async (op, key, value, ttl) => {
    switch (op) {
      case 'get':
        return store.get(envKvKey(key));
      case 'set':
        await store.set(envKvKey(key), value ?? new Uint8Array(0), ttl);
        return undefined;
      case 'del':
        await store.del(envKvKey(key));
        return undefined;
      case 'cacheGet':
        return store.get(cachedKey(name, key));
      case 'cacheSet':
        await store.set(cachedKey(name, key), value ?? new Uint8Array(0), ttl);
        return undefined;
    }
  };
}
