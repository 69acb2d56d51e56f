/**
 * cached() for functions run on the gateway thread: the SDK's cache slot is one per thread,
 * so it looks up which function is calling through AsyncLocalStorage and uses that
 * function's store and key namespace, as a worker's own slot does.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { setCacheBackend } from '../../../sdk/cached.js';
import type { FunctionKv } from './invoker.js';

const current = new AsyncLocalStorage<{ name: string; kv: FunctionKv | undefined }>();
let installed = false;

export function inProcessFunction<T>(name: string, kv: FunctionKv | undefined, run: () => Promise<T>): Promise<T> {
  if (!installed) {
    installed = true;
    setCacheBackend({
      async get(key) {
        const fn = current.getStore();
        return fn?.kv ? fn.kv('cacheGet', key, undefined, undefined) : undefined;
      },
      async set(key, value, ttl) {
        const fn = current.getStore();
        await fn?.kv?.('cacheSet', key, value, ttl);
      },
    });
  }
  return current.run({ name, kv }, run);
}
