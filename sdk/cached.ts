/**
 * `cached(key, producer, { ttl })`: a function's own memo in the shared cache (Redis across
 * the fleet, in memory otherwise), for work worth keeping between requests — a rendered
 * grub.cfg, an inventory lookup. The runtime supplies the store; the same call works in a
 * worker, in process and under the `invoke` harness.
 */
// The one request coalescing (cache/single-flight.ts). It imports nothing, so a function's
// bundle gains only that class.
import { SingleFlight } from '../gateway/src/cache/single-flight.js';

/** How the runtime plugs the store in: a global slot, because the SDK is bundled into each function. */
export interface CacheBackend {
  get(key: string): Promise<Uint8Array | undefined>;
  set(key: string, value: Uint8Array, ttlSeconds: number): Promise<void>;
}

const SLOT = Symbol.for('tftpfn.cacheBackend');
const local = new Map<string, { value: Uint8Array; expires: number }>();
const fallback: CacheBackend = {
  async get(key) {
    const hit = local.get(key);
    if (!hit) return undefined;
    if (hit.expires <= Date.now()) {
      local.delete(key);
      return undefined;
    }
    return hit.value;
  },
  async set(key, value, ttlSeconds) {
    local.set(key, { value, expires: Date.now() + ttlSeconds * 1000 });
  },
};

/** The runtime calls this once per thread; tests may too. */
export function setCacheBackend(backend: CacheBackend | undefined): void {
  (globalThis as Record<symbol, unknown>)[SLOT] = backend;
}

function backend(): CacheBackend {
  return ((globalThis as Record<symbol, unknown>)[SLOT] as CacheBackend | undefined) ?? fallback;
}

export type Cacheable = string | Uint8Array | number | boolean | object;

const enc = new TextEncoder();
const dec = new TextDecoder();

// One tag byte says how to turn the stored bytes back into what the producer returned.
function encode(v: Cacheable): Uint8Array {
  const tagged = (tag: string, body: Uint8Array) => {
    const out = new Uint8Array(body.byteLength + 1);
    out[0] = tag.charCodeAt(0);
    out.set(body, 1);
    return out;
  };
  if (typeof v === 'string') return tagged('s', enc.encode(v));
  if (v instanceof Uint8Array) return tagged('b', v);
  return tagged('j', enc.encode(JSON.stringify(v)));
}

function decode(raw: Uint8Array): Cacheable | undefined {
  const body = raw.subarray(1);
  switch (String.fromCharCode(raw[0])) {
    case 's':
      return dec.decode(body);
    case 'b':
      return new Uint8Array(body);
    case 'j':
      return JSON.parse(dec.decode(body)) as Cacheable;
    default:
      return undefined;
  }
}

/**
 * Producer runs under way in this worker, by key: concurrent calls share one. Marked pure so
 * esbuild drops it from the bundle of a function that never calls cached().
 */
const inFlight = /* @__PURE__ */ new SingleFlight<Cacheable>();

/**
 * Returns the value cached under `key`, or runs `producer`, caches what it returns for `ttl`
 * seconds, and returns that. Concurrent calls for one key in one worker share one producer
 * run. Strings, bytes and JSON values round-trip; keys are private to the function. When the
 * cache is unreachable the producer simply runs every time.
 *
 * @example
 * ```ts
 * import { cached, text, type Handler } from 'tftpfn/sdk';
 *
 * export const handle: Handler = async (request, env) => {
 *   const cfg = await cached(`grub:${request.mac}`, () => render(request.mac), { ttl: 60 });
 *   return text(cfg);
 * };
 * declare function render(mac: string | undefined): Promise<string>;
 * ```
 */
export async function cached<T extends Cacheable>(key: string, producer: () => T | Promise<T>, opts: { ttl: number }): Promise<T> {
  if (typeof key !== 'string' || key === '') throw new TypeError('cached(): key must be a non-empty string');
  if (typeof opts?.ttl !== 'number' || !(opts.ttl > 0) || !Number.isFinite(opts.ttl)) throw new TypeError('cached(): give { ttl } in seconds, finite and greater than 0');
  // The store lookup is inside the shared run: a call joins a run already under way before
  // asking the store, so a lookup racing a run's end cannot start a second producer run.
  const store = backend();
  const ttlSeconds = Math.ceil(opts.ttl);
  return inFlight.run(key, async () => {
    const hit = await store.get(key);
    if (hit && hit.byteLength > 0) {
      const cachedValue = decode(hit);
      if (cachedValue !== undefined) return cachedValue;
    }
    const value = await producer();
    if (value === undefined || value === null) throw new TypeError('cached(): the producer returned nothing to cache');
    await store.set(key, encode(value), ttlSeconds);
    return value;
  }) as Promise<T>;
}
