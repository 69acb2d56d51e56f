/**
 * The three Redis topologies a gateway may be given (docs/REDIS.md), behind one handle, so a
 * Redis-backed test can run its assertions unchanged on each: `describe.each(REDIS_TOPOLOGIES)`
 * and `startTopology(kind)` once per file. `cli()` reads and writes the keyspace as one server's
 * (the current master behind Sentinel; on a Cluster, MOVED followed and KEYS/DBSIZE/FLUSHALL
 * merged over the masters).
 */
import { startRedis, type RespReply, type TestRedis } from './redis-server.js';
import { startRedisCluster, type TestCluster } from './redis-cluster.js';
import { startRedisSentinel, type TestSentinel } from './redis-sentinel.js';

export type RedisTopologyKind = 'single' | 'sentinel' | 'cluster';
export const REDIS_TOPOLOGIES: readonly RedisTopologyKind[] = ['single', 'sentinel', 'cluster'];

export interface TestTopology {
  readonly kind: RedisTopologyKind;
  readonly url: string;
  /** How long start took, ms. */
  readonly startMs: number;
  cli(...args: (string | Buffer | number)[]): Promise<RespReply>;
  cleanup(): Promise<void>;
  /** The topology's own handle, for what only it can do (kill a node, fail over). */
  readonly server: TestRedis | TestSentinel | TestCluster;
}

export async function startTopology(kind: RedisTopologyKind): Promise<TestTopology> {
  const t0 = performance.now();
  const started = kind === 'single' ? await startRedis() : kind === 'sentinel' ? await startRedisSentinel() : await startRedisCluster();
  const startMs = performance.now() - t0;
  console.log(`redis topology ${kind}: started in ${startMs.toFixed(0)} ms`);
  return { kind, url: started.url, startMs, cli: (...args) => started.cli(...args), cleanup: () => started.cleanup(), server: started };
}
