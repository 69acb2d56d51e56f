/**
 * Issue 9 §2: rate limits (token buckets) per client address. A flood of 300 RRQs from one
 * address in a few milliseconds gets its burst and its rate, no more; the rest are dropped
 * without a word (an answer to a forged source would be reflection) and counted; a client at
 * another address is served meanwhile.
 */
import { performance } from 'node:perf_hooks';
import { afterEach, describe, expect, it } from 'vitest';
import { get } from '../../client/index.js';
import { startTestGateway } from '../helpers/gateway.js';
import { Crowd } from './admission-helpers.js';
import { waitUntil } from '../helpers/raw-peer.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('admission: rate limits', () => {
  it('admission: 300 RRQs at once from one address get the burst (20) plus 50/s; the rest are dropped silently and counted', async () => {
    // Loopback is exempt from rate limits by default (only local processes send from there).
    const config = { rateLimitExempt: [], rateLimitPerClient: 50, rateLimitPerClientBurst: 20, maxSessionsPerClient: 1000 };
    const gw = await startTestGateway({ files: { 'one.txt': 'one block\n' }, config });
    cleanups.push(() => gw.stop());
    const crowd = await Crowd.open(Array.from({ length: 300 }, () => '127.0.0.2'));
    cleanups.push(() => crowd.close());
    const started = performance.now();
    crowd.rrqAll(gw.port, 'one.txt');
    const c = gw.gateway.counters;
    await waitUntil(() => c.refusedRateLimited + c.sessionsStarted === 300, 5000, 'every request decided');
    const elapsedS = (performance.now() - started) / 1000;
    const admitted = c.sessionsStarted;
    console.log(`[admission figure] 300 RRQs from one address in ${(elapsedS * 1000).toFixed(0)} ms, rateLimitPerClient 50/s burst 20: ${admitted} admitted, ${c.refusedRateLimited} dropped silently`);
    expect(admitted).toBeGreaterThanOrEqual(20);
    expect(admitted).toBeLessThanOrEqual(20 + Math.ceil(50 * elapsedS) + 1);
    expect(c.refusalsByLimit['client-rate']).toBe(300 - admitted);

    // Meanwhile another address has a bucket of its own.
    const r = await get({ host: '127.0.0.1', port: gw.port, path: 'one.txt', localAddress: '127.0.0.3', timeoutMs: 300, retries: 2 });
    expect(r.data!.toString()).toBe('one block\n');

    // Admitted requests got DATA 1; the refused ones got nothing at all.
    await waitUntil(() => crowd.countWith((p) => p.op === 3) === admitted, 3000, 'DATA 1 to every admitted request');
    expect(crowd.countSilent()).toBe(300 - admitted);
    expect(crowd.countWith((p) => p.op === 5)).toBe(0);
  });

  it('admission: by default loopback is exempt, so a local load from one address is not rate-limited', async () => {
    const gw = await startTestGateway({ files: { 'one.txt': 'one block\n' }, config: { maxSessionsPerClient: 1000 } });
    cleanups.push(() => gw.stop());
    const crowd = await Crowd.open(Array.from({ length: 300 }, () => '127.0.0.2'));
    cleanups.push(() => crowd.close());
    crowd.rrqAll(gw.port, 'one.txt');
    await waitUntil(() => crowd.countWith((p) => p.op === 3) === 300, 5000, 'DATA 1 to all 300');
    expect(gw.gateway.counters.refusedRateLimited).toBe(0);
  });
});
