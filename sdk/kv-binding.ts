/**
 * `env.kv` built over any byte store: the runtime gives it a Redis- or memory-backed store
 * (through the worker's message port), the `invoke` harness a Map.
 */
import type { KvBinding } from './contract.js';

/** What env.kv needs underneath: bytes in, bytes out, never throwing for an outage. */
export interface RawKv {
  get(key: string): Promise<Uint8Array | undefined>;
  set(key: string, value: Uint8Array, ttlSeconds: number | undefined): Promise<void>;
  del(key: string): Promise<void>;
}

const enc = new TextEncoder();
const dec = new TextDecoder();

function checkKey(key: unknown): string {
  if (typeof key !== 'string' || key === '' || key.length > 512) throw new TypeError(`env.kv: a key is a non-empty string of at most 512 characters, got ${JSON.stringify(key)}`);
  return key;
}

/**
 * Wraps a raw store as the binding functions see.
 *
 * @example
 * ```ts
 * import { kvBinding } from 'tftpfn/sdk';
 *
 * const map = new Map<string, Uint8Array>();
 * const kv = kvBinding({ get: async (k) => map.get(k), set: async (k, v) => void map.set(k, v), del: async (k) => void map.delete(k) });
 * await kv.set('machine:aa:bb:cc:dd:ee:ff', { kernel: 'vmlinuz' });
 * ```
 */
export function kvBinding(raw: RawKv): KvBinding {
  return {
    async get(key) {
      const v = await raw.get(checkKey(key));
      return v === undefined ? undefined : dec.decode(v);
    },
    // async, so a bad key rejects like every other method instead of throwing synchronously.
    async getBytes(key) {
      return raw.get(checkKey(key));
    },
    async getJson<T>(key: string) {
      const v = await raw.get(checkKey(key));
      return v === undefined ? undefined : (JSON.parse(dec.decode(v)) as T);
    },
    async set(key, value, opts = {}) {
      const ttl = opts.ttl;
      // Finite: Redis refuses EX Infinity, and the write would be silently dropped.
      if (ttl !== undefined && !(typeof ttl === 'number' && ttl > 0 && Number.isFinite(ttl))) throw new TypeError('env.kv.set: ttl is a finite number of seconds greater than 0');
      const bytes = typeof value === 'string' ? enc.encode(value) : value instanceof Uint8Array ? value : enc.encode(JSON.stringify(value));
      await raw.set(checkKey(key), bytes, ttl === undefined ? undefined : Math.ceil(ttl));
    },
    async delete(key) {
      await raw.del(checkKey(key));
    },
  };
}
