/**
 * A worker's env.kv and cached() calls, relayed to the store (Redis, shared by the fleet, or
 * memory). The store never makes a worker fail: an error is logged and answered as a miss, and a
 * worker with MAX_KV_INFLIGHT_PER_WORKER calls already waiting gets misses at once, as from a store
 * that is down, instead of an unbounded queue of commands (a flood costs that function its cache,
 * not the fleet its Redis). Used by worker-pool.ts; the key layout is in function-runtime.ts
 * (functionKv) and cache/keyspace.ts.
 */
import type { Logger } from 'pino';
import type { FunctionKv } from './invoker.js';
import type { PoolStats } from './pool-spec.js';
import type { FromWorker } from './worker-protocol.js';

/** env.kv and cached() calls one worker may have waiting on the store. */
export const MAX_KV_INFLIGHT_PER_WORKER = 1024;

/** Relays one kv call of a worker (`w.kvInflight` counts its calls waiting) and answers it. */
export function relayKv(
  w: { kvInflight: number },
  msg: Extract<FromWorker, { t: 'kv' }>,
  kv: FunctionKv | undefined,
  answer: (value: Uint8Array | undefined) => void,
  stats: PoolStats,
  log: Logger,
): void {
  if (!kv) return answer(undefined);
  // A worker flooding the store (Redis, shared by the fleet) gets misses, as from a store
  // that is down, instead of an unbounded queue of commands.
  if (w.kvInflight >= MAX_KV_INFLIGHT_PER_WORKER) {
    stats.kvRefused++;
    if (stats.kvRefused % 1000 === 1) log.warn({ event: 'functionKvBusy', inflight: w.kvInflight, refused: stats.kvRefused }, `more than ${MAX_KV_INFLIGHT_PER_WORKER} key-value calls in flight; answered as misses`);
    return answer(undefined);
  }
  w.kvInflight++;
  kv(msg.op, msg.key, msg.value, msg.ttl)
    .then(answer, (e: unknown) => {
      log.warn({ event: 'functionKvError', op: msg.op, err: e }, 'key-value call failed; answered as a miss');
      answer(undefined);
    })
    .finally(() => w.kvInflight--);
}
