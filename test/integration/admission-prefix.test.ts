/**
 * Issue 9 §2: "10,000 RRQs from 200 addresses made every client 'server busy' for about 5 s":
 * the per-client limit was per address only. Reproduced at test scale on loopback (Linux
 * answers all of 127/8): 400 RRQs from 200 addresses of 127.0.0.0/24 that never ACK, against
 * maxSessions 300. Without a per-prefix limit the flood fills the gateway and a client in
 * 127.0.1.0/24 is refused; with maxSessionsPerPrefix 100 the flood holds 100 sessions and that
 * client is served.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { get } from '../../client/index.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { addressesIn24, Crowd } from './admission-helpers.js';
import { seededBytes, waitUntil } from '../helpers/raw-peer.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const FLOODERS = addressesIn24('127.0.0.10', 200);
const big = seededBytes(2 * 1024 * 1024);

async function floodThenFetch(maxSessionsPerPrefix: number): Promise<{ gw: TestGateway; crowd: Crowd; outsider: Awaited<ReturnType<typeof get>> | Error }> {
  // timeoutMs 2000: the flood's unacknowledged sessions live ~2 s x (1 + firstPacketRetries).
  const gw = await startTestGateway({ files: { 'big.bin': big, 'small.txt': 'served\n' }, config: { maxSessions: 300, maxSessionsPerPrefix, timeoutMs: 2000 } });
  cleanups.push(() => gw.stop());
  const crowd = await Crowd.open([...FLOODERS, ...FLOODERS]);
  cleanups.push(() => crowd.close());
  crowd.rrqAll(gw.port, 'big.bin');
  // Every flood request has been answered: DATA 1 (admitted) or ERROR (refused).
  await waitUntil(() => crowd.countSilent() === 0, 5000, 'an answer to every flood request');
  const outsider = await get({ host: '127.0.0.1', port: gw.port, path: 'small.txt', localAddress: '127.0.1.5', timeoutMs: 300, retries: 2 }).catch((e: Error) => e);
  return { gw, crowd, outsider };
}

describe('admission: per-prefix limits', () => {
  it('admission: without a per-prefix limit, 400 RRQs from 200 addresses of one /24 make a client of another /24 busy (the attack)', async () => {
    const { gw, crowd, outsider } = await floodThenFetch(1_000_000);
    expect(crowd.countWith((p) => p.op === 3)).toBe(300);
    expect(gw.gateway.counters.refusalsByLimit.sessions).toBeGreaterThanOrEqual(100);
    expect(outsider).toBeInstanceOf(Error);
    expect((outsider as Error).message).toMatch(/busy/);
  });

  it('admission: maxSessionsPerPrefix 100 caps the flood at 100 sessions and a client of another /24 is served', async () => {
    const { gw, crowd, outsider } = await floodThenFetch(100);
    expect(crowd.countWith((p) => p.op === 3)).toBe(100);
    expect(crowd.countWith((p) => p.op === 5 && p.message === 'too many sessions from this network')).toBe(300);
    expect(gw.gateway.counters.refusalsByLimit.prefix).toBe(300);
    expect(gw.gateway.counters.refusedBusy).toBe(300);
    expect(outsider).not.toBeInstanceOf(Error);
    expect((outsider as { data: Buffer }).data.toString()).toBe('served\n');
    const served = await gw.waitForRecord((r) => r.peer.address === '127.0.1.5');
    expect(served.outcome).toBe('ok');
    // The flood's refusals are recorded, but only the sampled ones (refusalLogSamples, default 10).
    const busy = gw.records.filter((r) => r.outcome === 'busy');
    expect(busy.length).toBeGreaterThan(0);
    expect(busy.length).toBeLessThanOrEqual(10);
    expect(busy[0]).toMatchObject({ errorCode: 0, errorMessage: 'too many sessions from this network', packetsSent: 1 });
  });
});
