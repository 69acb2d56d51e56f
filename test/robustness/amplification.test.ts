/**
 * Reflection: TFTP is a UDP amplification vector, since a spoofed RRQ makes the server send to
 * the victim. What one unacknowledged request can make the gateway send is bounded by
 * firstPacketRetries: at most 1 + firstPacketRetries datagrams, each no larger than the first.
 *
 * Each test counts what a requester that never answers receives, from the request until the
 * session record says 'timeout', plus a quiet period to show that nothing else follows.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SessionRecord } from '../../gateway/src/index.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { RawPeer, parse, rrq, type Received } from '../helpers/raw-peer.js';
import { seededBytes, testSeed } from '../helpers/seeded.js';

const SEED = testSeed(0xa3f1_0001);
const TIMEOUT_MS = 50;
const FIRST_PACKET_RETRIES = 2;
const MAX_DATAGRAMS = 1 + FIRST_PACKET_RETRIES;
/** Long enough past the last retransmit (50 * 1.5^2 = 112 ms) that a further one would show. */
const QUIET_MS = 400;

/**
 * Bound on how long an unanswered session may live with timeoutMs 50, maxTimeoutMs 100 and one
 * retry: about 125 ms in fact, with room for a loaded machine.
 */
const HOLD_BOUND_MS = 1000;

const quiet = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Sends `request` (repeated `repeats` times, 20 ms apart) and never answers; returns what came back. */
async function neverAnswer(gw: TestGateway, request: Buffer, repeats = 1): Promise<{ got: Received[]; record: SessionRecord; requestBytes: number }> {
  const peer = await RawPeer.open();
  try {
    for (let i = 0; i < repeats; i++) {
      await peer.send(request, gw.port);
      if (i < repeats - 1) await quiet(20);
    }
    const record = await gw.waitForRecord((r) => r.peer.port === peer.port, 10_000);
    await quiet(QUIET_MS);
    return { got: [...peer.received], record, requestBytes: request.length };
  } finally {
    await peer.close();
  }
}

const totalBytes = (got: Received[]) => got.reduce((n, r) => n + r.msg.length, 0);

for (const singlePort of [false, true]) {
  describe(`amplification (${singlePort ? 'single-port' : 'per-session port'}): an RRQ nobody acknowledges`, () => {
    let gw: TestGateway;
    const file = seededBytes(SEED, 100_000);

    beforeAll(async () => {
      gw = await startTestGateway({
        files: { 'big.bin': file, 'a': file },
        config: { timeoutMs: TIMEOUT_MS, retries: 5, firstPacketRetries: FIRST_PACKET_RETRIES, singlePort },
      });
    });
    afterAll(async () => {
      await gw?.stop();
    });

    it('without options: at most 3 copies of DATA 1, then the record says timeout', async () => {
      const { got, record, requestBytes } = await neverAnswer(gw, rrq('a'));
      expect(got.length).toBeGreaterThanOrEqual(1);
      expect(got.length).toBeLessThanOrEqual(MAX_DATAGRAMS);
      for (const r of got) {
        const p = parse(r.msg);
        expect(p).toMatchObject({ op: 3, block: 1 });
        expect(p.data!.equals(file.subarray(0, 512))).toBe(true);
      }
      expect(totalBytes(got)).toBeLessThanOrEqual(MAX_DATAGRAMS * 516);
      expect(record.outcome).toBe('timeout');
      expect(record.packetsSent).toBe(got.length);
      expect(record.retransmits).toBe(got.length - 1);
      // The worst case for the default 512-byte block: a 10-byte RRQ ("a", octet) buys at most
      // 3 x 516 bytes, a factor of about 155.
      expect(totalBytes(got) / requestBytes).toBeLessThanOrEqual((MAX_DATAGRAMS * 516) / 10);
    });

    it('with blksize 65464, windowsize 64 and tsize: at most 3 OACKs and no DATA at all', async () => {
      const req = rrq('big.bin', { blksize: 65464, windowsize: 64, tsize: 0 });
      const { got, record } = await neverAnswer(gw, req);
      expect(got.length).toBeGreaterThanOrEqual(1);
      expect(got.length).toBeLessThanOrEqual(MAX_DATAGRAMS);
      // Issue 9: the window is lowered to fit maxWindowBytes (1 MiB): 16 blocks of 65464; in
      // single-port mode blksize is capped at singlePortMaxBlockSize (1468) and the window at
      // singlePortMaxWindowBytes (16 KiB): 11 blocks.
      const blksize = singlePort ? '1468' : '65464';
      const windowsize = singlePort ? '11' : '16';
      for (const r of got) {
        // RFC 2347: nothing but the OACK until ACK 0; a window of 64 KiB blocks would be 4 MiB.
        expect(parse(r.msg)).toMatchObject({ op: 6, options: { blksize, windowsize, tsize: String(file.length) } });
      }
      expect(totalBytes(got)).toBeLessThanOrEqual(MAX_DATAGRAMS * got[0].msg.length);
      expect(totalBytes(got)).toBeLessThan(MAX_DATAGRAMS * 64);
      expect(record.outcome).toBe('timeout');
      expect(record.bytes).toBe(0);
      expect(record.blocks).toBe(0);
    });

    // Changed for issue 9: a repeated request now gets the first packet again (the client's way
    // to recover a lost OACK when firstPacketRetries is 0), but never more than one reply per
    // request datagram on top of the timer's retries.
    it('a request repeated from the same port during the retries gets at most one reply per repeat', async () => {
      const repeats = 4;
      const { got, record } = await neverAnswer(gw, rrq('big.bin', { blksize: 1468 }), repeats);
      expect(got.length).toBeGreaterThanOrEqual(repeats);
      expect(got.length).toBeLessThanOrEqual(MAX_DATAGRAMS + repeats - 1);
      for (const r of got) expect(parse(r.msg).op).toBe(6);
      expect(record.outcome).toBe('timeout');
      expect(gw.gateway.counters.duplicateRequests).toBeGreaterThanOrEqual(1);
    });

    it('a missing file gets exactly one ERROR, never retransmitted', async () => {
      const { got, record } = await neverAnswer(gw, rrq('no-such-file', { blksize: 1468, tsize: 0 }));
      expect(got).toHaveLength(1);
      expect(parse(got[0].msg)).toMatchObject({ op: 5, code: 1 });
      expect(record.outcome).toBe('not-found');
    });
  });
}

describe('amplification: how long an unacknowledged request holds its session', () => {
  let gw: TestGateway;

  beforeAll(async () => {
    gw = await startTestGateway({
      files: { 'a.bin': seededBytes(SEED + 1, 2000) },
      config: { timeoutMs: TIMEOUT_MS, maxTimeoutMs: 100, retries: 5, firstPacketRetries: 1 },
    });
  });
  afterAll(async () => {
    await gw?.stop();
  });

  it('without a timeout option, the session gives up within (1 + firstPacketRetries) x maxTimeoutMs', async () => {
    const started = performance.now();
    const { got, record } = await neverAnswer(gw, rrq('a.bin', { tsize: 0 }));
    expect(record.outcome).toBe('timeout');
    expect(got.length).toBeLessThanOrEqual(2);
    expect(record.durationMs).toBeLessThan(HOLD_BOUND_MS);
    expect(performance.now() - started).toBeLessThan(5_000);
  });

  // The RFC 2349 timeout option is acknowledged as asked (up to 255 s), but the retransmit
  // timer is capped by maxTimeoutMs, so a spoofed "timeout 255" cannot pin a session slot.
  it('with timeout=2 against maxTimeoutMs=100, the session still gives up within (1 + firstPacketRetries) x maxTimeoutMs', async () => {
    const { record } = await neverAnswer(gw, rrq('a.bin', { timeout: 2 }));
    expect(record.outcome).toBe('timeout');
    expect(record.durationMs).toBeLessThan(HOLD_BOUND_MS);
  });
});
