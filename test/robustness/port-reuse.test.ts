/**
 * A client that sends a new request from the address and port of a session that is still
 * running. Firmware does this after a reboot (many PXE ROMs use a fixed source port), and an
 * OS can hand a just-closed ephemeral port to the next socket.
 *
 * A client has one transfer per TID (RFC 1350), so a new RRQ for another file from the same
 * port means the old transfer is over for that client. The gateway must not treat it as a
 * retransmission: the old session would keep sending the old file's DATA 1 to the port, and
 * the client, which has not locked a TID yet, would take it as the answer to its new request.
 * The gateway ends the old session silently ('superseded') and admits the new request.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { RawPeer, parse, rrq } from '../helpers/raw-peer.js';
import { seededBytes, testSeed } from '../helpers/seeded.js';

const SEED = testSeed(0x9047_0001);

describe('port reuse: a new request from the port of a session still running', () => {
  let gw: TestGateway;
  const old = seededBytes(SEED, 2000);
  const wanted = seededBytes(SEED + 1, 2000);

  beforeAll(async () => {
    gw = await startTestGateway({ files: { 'old.bin': old, 'wanted.bin': wanted }, config: { timeoutMs: 300, retries: 3, firstPacketRetries: 2 } });
  });
  afterAll(async () => {
    await gw?.stop();
  });

  it('a repeated identical RRQ is a retransmission: one session, one reply stream', async () => {
    const peer = await RawPeer.open();
    try {
      await peer.send(rrq('old.bin'), gw.port);
      const first = await peer.next();
      await peer.send(rrq('old.bin'), gw.port);
      const again = await peer.next();
      // The retransmitted DATA 1 comes from the same session (TID), not a second one.
      expect(again.port).toBe(first.port);
      expect(parse(again.msg)).toMatchObject({ op: 3, block: 1 });
      expect(gw.gateway.counters.duplicateRequests).toBeGreaterThanOrEqual(1);
    } finally {
      await peer.close();
    }
    await gw.waitForRecord((r) => r.file === 'old.bin' && r.outcome === 'timeout', 10_000);
  });

  it('an RRQ for another file from the same port is answered with that file, never the old one', async () => {
    const peer = await RawPeer.open();
    try {
      await peer.send(rrq('old.bin'), gw.port);
      const first = parse((await peer.next()).msg);
      expect(first).toMatchObject({ op: 3, block: 1 });
      // The client gives up on old.bin (never ACKs) and asks for wanted.bin from the same port.
      await peer.send(rrq('wanted.bin'), gw.port);
      const reply = await peer.next(3000);
      const p = parse(reply.msg);
      expect(p).toMatchObject({ op: 3, block: 1 });
      expect(p.data!.equals(wanted.subarray(0, 512)), 'the first DATA after the new RRQ carries old.bin, not wanted.bin').toBe(true);
    } finally {
      await peer.close();
    }
  }, 10_000);
});
