/**
 * Issue 13: "an identical RRQ from an address and port whose previous session has already sent
 * its last block is a new transfer, not a retransmission". A client that reuses its port asks
 * for the same file again right after its last ACK; the gateway may read that request before
 * the ACK (they arrive on different sockets). It used to count as a retransmission of the old
 * request: ignored (or answered by the old session), so the client waited out its 1 s timeout.
 *
 * The worst order is forced here: the new request is sent before the final ACK. Real sockets
 * on loopback; every wait is bounded.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { GatewayConfigInput } from '../../gateway/src/index.js';
import { startTestGateway } from '../helpers/gateway.js';
import { RawPeer, waitUntil } from '../helpers/raw-peer.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const FILE = Buffer.alloc(1024, 7); // two full 512-byte blocks and an empty final one

/** One lock-step transfer up to (not including) the final ACK; returns the session's port. */
async function fetchAllButLastAck(peer: RawPeer, serverPort: number, first?: { port: number; block: number }): Promise<{ port: number; lastBlock: number }> {
  let got = first ?? (await nextData(peer));
  for (let i = 0; i < 10; i++) {
    const r = await nextData(peer);
    if (r.port !== got.port) throw new Error(`DATA from port ${r.port}, expected ${got.port}`);
    got = r;
    if (r.bytes < 512) return { port: r.port, lastBlock: r.block };
    peer.ack(r.port, r.block);
  }
  throw new Error(`no final block (server port ${serverPort})`);

  async function nextData(p: RawPeer): Promise<{ port: number; block: number; bytes: number }> {
    const r = await p.expect(3, 500);
    return { port: r.port, block: r.packet.block, bytes: r.packet.data.length };
  }
}

describe('port reuse: the same request after the last block is a new transfer', () => {
  for (const mode of ['per-session ports', 'single-port'] as const) {
    it(`port reuse (${mode}): a client that asks again from its port before its final ACK is served at once, 20 times in a row`, async () => {
      const config: GatewayConfigInput = mode === 'single-port' ? { singlePort: true } : {};
      const gw = await startTestGateway({ files: { 'f.bin': FILE }, config });
      cleanups.push(() => gw.stop());
      const peer = await RawPeer.open();
      cleanups.push(() => peer.close());
      const rounds = 20;
      let previousPort = -1;
      // The first request; each round then sends the next request before the final ACK.
      peer.rrq(gw.port, 'f.bin');
      let first = await peer.expect(3, 500);
      const startedMs = performance.now();
      for (let round = 0; round < rounds; round++) {
        expect(first.packet.block).toBe(1);
        if (mode === 'per-session ports') expect(first.port).not.toBe(previousPort);
        peer.ack(first.port, 1);
        const { port, lastBlock } = await fetchAllButLastAck(peer, gw.port, { port: first.port, block: 1 });
        previousPort = port;
        if (round === rounds - 1) {
          peer.ack(port, lastBlock);
          break;
        }
        // The next transfer's request first, then the final ACK of this one: the race's worst order.
        peer.rrq(gw.port, 'f.bin');
        peer.ack(port, lastBlock);
        // Served at once: DATA 1 of the new transfer well inside a client's 1 s timeout.
        first = await peer.expect(3, 500);
      }
      const elapsedMs = performance.now() - startedMs;
      console.log(`[port reuse ${mode}] ${rounds} transfers from one port in ${elapsedMs.toFixed(0)} ms`);
      expect(elapsedMs).toBeLessThan(rounds * 250);
      await waitUntil(() => gw.records.length >= rounds, 3000, 'every record');
      const outcomes = gw.records.map((r) => r.outcome);
      // On its own port the old session still reads its final ACK: every transfer ends ok. In
      // single-port mode the table routes the peer's datagrams and the old session is superseded.
      if (mode === 'per-session ports') expect(outcomes).toEqual(Array(rounds).fill('ok'));
      else expect(outcomes.filter((o) => o === 'ok').length + outcomes.filter((o) => o === 'superseded').length).toBe(rounds);
      expect(gw.gateway.counters.duplicateRequests).toBe(0);
      expect(gw.gateway.activeSessions).toBe(0);
    }, 30_000);
  }

  it('port reuse: a one-block file without options: a repeat before any ACK gets DATA 1 again from the same session (no second session), which also serves a client that reused its port', async () => {
    // DATA 1 is also the last block here, and nothing is acknowledged yet: the repeat may be a
    // retransmission, so it keeps the reflection rule (one answer per request datagram).
    const gw = await startTestGateway({ files: { 'one.bin': Buffer.alloc(100, 3) } });
    cleanups.push(() => gw.stop());
    const peer = await RawPeer.open();
    cleanups.push(() => peer.close());
    peer.rrq(gw.port, 'one.bin');
    const d1 = await peer.expect(3, 1000);
    peer.rrq(gw.port, 'one.bin');
    const again = await peer.expect(3, 1000);
    expect(again.port).toBe(d1.port);
    expect(again.packet.data.length).toBe(100);
    expect(gw.gateway.counters.duplicateRequests).toBe(1);
    peer.ack(d1.port, 1);
    await waitUntil(() => gw.records.length === 1, 3000, 'the record');
    expect(gw.records.map((r) => r.outcome)).toEqual(['ok']);
    expect(gw.gateway.counters.sessionsStarted).toBe(1);
  });

  it('port reuse: a repeated request before the last block is still a retransmission (one answer per request datagram)', async () => {
    // 4 blocks: after DATA 1 the peer repeats its request; the session answers DATA 1 again
    // from the same port and no second session starts.
    const gw = await startTestGateway({ files: { 'f.bin': Buffer.alloc(2000, 1) } });
    cleanups.push(() => gw.stop());
    const peer = await RawPeer.open();
    cleanups.push(() => peer.close());
    peer.rrq(gw.port, 'f.bin');
    const d1 = await peer.expect(3, 1000);
    peer.rrq(gw.port, 'f.bin');
    const again = await peer.expect(3, 1000);
    expect(again.port).toBe(d1.port);
    expect(again.packet.block).toBe(1);
    expect(gw.gateway.counters.duplicateRequests).toBe(1);
    await peer.silentFor(150);
    expect(gw.gateway.activeSessions).toBe(1);
  });
});
