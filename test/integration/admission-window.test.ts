/**
 * Issue 9 §2, the budget and proof: a session reserves its first window at admission (one
 * slow-start block for a read on a per-session port) and its full window when its peer proves
 * itself with an ACK; when the budget cannot cover that, the peer gets ERROR 0 "server busy"
 * instead of the window (outcome busy, counted under limit window-buffers).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCode } from '../../gateway/src/protocol/error-codes.js';
import { startTestGateway } from '../helpers/gateway.js';
import { RawPeer, seededBytes, waitUntil } from '../helpers/raw-peer.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const BLOCK = 65464;
const WINDOW = 16;
const UNPROVEN = 2 * 1 * BLOCK;
const PROVEN = 2 * WINDOW * BLOCK;

describe('admission: the budget follows the window', () => {
  it('admission: three proven sessions fit, a fourth is admitted on its slow-start block and told busy when its ACK would open the window', async () => {
    const budget = 3 * PROVEN + 2 * UNPROVEN;
    const gw = await startTestGateway({ files: { 'big.bin': seededBytes(8 * 1024 * 1024) }, config: { maxBufferBytes: budget, maxWindowBytes: WINDOW * BLOCK, timeoutMs: 5000 } });
    cleanups.push(() => gw.stop());
    const options = { blksize: String(BLOCK), windowsize: '64' };
    const proven: { peer: RawPeer; tid: number }[] = [];
    for (let i = 0; i < 3; i++) {
      const peer = await RawPeer.open();
      cleanups.push(() => peer.close());
      peer.rrq(gw.port, 'big.bin', options);
      const oack = await peer.expect(6);
      expect(oack.packet.options).toMatchObject({ blksize: String(BLOCK), windowsize: String(WINDOW) });
      peer.ack(oack.from.port, 0);
      expect((await peer.expect(3)).packet.block).toBe(1);
      proven.push({ peer, tid: oack.from.port });
    }
    expect(gw.gateway.counters.bufferBytesReserved).toBe(3 * PROVEN);

    const fourth = await RawPeer.open();
    cleanups.push(() => fourth.close());
    fourth.rrq(gw.port, 'big.bin', options);
    const oack = await fourth.expect(6); // its slow-start block fits
    expect(gw.gateway.counters.bufferBytesReserved).toBe(3 * PROVEN + UNPROVEN);
    fourth.ack(oack.from.port, 0);
    const busy = await fourth.expect(5); // not one DATA of the window it could not afford
    expect(busy.packet).toMatchObject({ code: ErrorCode.NotDefined, message: 'server busy, try again later' });
    expect(busy.from.port).toBe(oack.from.port);
    const rec = await gw.waitForRecord((r) => r.peer.port === fourth.port);
    expect(rec).toMatchObject({ outcome: 'busy', errorCode: 0, blocks: 0 });
    expect(gw.gateway.counters.refusalsByLimit['window-buffers']).toBe(1);
    await waitUntil(() => gw.gateway.counters.bufferBytesReserved === 3 * PROVEN, 2000, 'the fourth reservation to return');

    // One proven session ends: its window's bytes come back and a new peer gets a full window.
    proven[0].peer.error(proven[0].tid, ErrorCode.NotDefined, 'bye');
    await waitUntil(() => gw.gateway.counters.bufferBytesReserved === 2 * PROVEN, 2000, 'the ended session to release its window');
    const fifth = await RawPeer.open();
    cleanups.push(() => fifth.close());
    fifth.rrq(gw.port, 'big.bin', options);
    const oack5 = await fifth.expect(6);
    fifth.ack(oack5.from.port, 0);
    expect((await fifth.expect(3)).packet.block).toBe(1);
    expect(gw.gateway.counters.bufferBytesReserved).toBe(3 * PROVEN);
  });
});
