/**
 * The read session's send-window accounting on its own: window size, slow start, proof and the
 * retransmit budget, with no session, link or clock.
 */
import { describe, expect, it } from 'vitest';
import { SendWindow } from '../../../gateway/src/session/send-window.js';

/** Pushes `n` blocks of `bytes` each, datagrams tagged by number. */
function fill(w: SendWindow, n: number, bytes: number, from = 1): void {
  for (let i = 0; i < n; i++) w.push(new Uint8Array([from + i]), bytes);
}

const tags = (datagrams: unknown[]): number[] => datagrams.map((d) => (d as Uint8Array)[0]);

describe('send window: size', () => {
  it('send window: the full window is min(windowSize, maxWindowBytes / blockSize), at least one block', () => {
    expect(new SendWindow({ blockSize: 512, windowSize: 16 }).fullBlocks).toBe(16);
    expect(new SendWindow({ blockSize: 512, windowSize: 16, maxWindowBytes: 2048 }).fullBlocks).toBe(4);
    expect(new SendWindow({ blockSize: 65464, windowSize: 16, maxWindowBytes: 1000 }).fullBlocks).toBe(1);
  });

  it('send window: without slow start the whole window is open at once and room ends at the limit', () => {
    const w = new SendWindow({ blockSize: 8, windowSize: 3 });
    expect(w.limitBlocks).toBe(3);
    fill(w, 2, 8);
    expect(w.hasRoom).toBe(true);
    fill(w, 1, 8, 3);
    expect(w.hasRoom).toBe(false);
    expect(w.inFlight).toBe(3);
    expect(tags([w.oldest?.datagram])).toEqual([1]);
  });

  it('send window: on a per-session port the first ACK opens the full window', () => {
    const w = new SendWindow({ blockSize: 8, windowSize: 8, slowStartBlocks: 2 });
    expect(w.limitBlocks).toBe(2);
    w.acknowledge(0);
    expect(w.limitBlocks).toBe(8);
    expect(w.peerAcked).toBe(true);
    expect(w.peerProven).toBe(false);
  });

  it('send window: in single-port mode the window grows one block per block acknowledged, up to the full window', () => {
    const w = new SendWindow({ blockSize: 8, windowSize: 8, slowStartBlocks: 2, ackIsEvidence: false });
    w.acknowledge(0);
    expect(w.limitBlocks).toBe(2);
    fill(w, 2, 8);
    w.acknowledge(2);
    expect(w.limitBlocks).toBe(4);
    fill(w, 4, 8, 3);
    w.acknowledge(4);
    expect(w.limitBlocks).toBe(8);
    fill(w, 8, 8, 7);
    w.acknowledge(8);
    expect(w.limitBlocks).toBe(8);
  });
});

describe('send window: proof and budget', () => {
  it('send window: a per-session-port peer is proven by its first acknowledged block and starts with min(one window, 64 KiB)', () => {
    const w = new SendWindow({ blockSize: 512, windowSize: 4 });
    w.acknowledge(0);
    expect(w.peerProven).toBe(false);
    expect(w.budgetBytes).toBe(0);
    fill(w, 1, 512);
    w.acknowledge(1);
    expect(w.peerProven).toBe(true);
    expect(w.budgetBytes).toBe(4 * 512);
    const big = new SendWindow({ blockSize: 65464, windowSize: 64 });
    fill(big, 1, 65464);
    big.acknowledge(1);
    expect(big.budgetBytes).toBe(64 * 1024);
  });

  it('send window: a single-port peer is proven only once it has acknowledged a full window', () => {
    const w = new SendWindow({ blockSize: 8, windowSize: 4, slowStartBlocks: 1, ackIsEvidence: false });
    fill(w, 3, 8);
    w.acknowledge(3);
    expect(w.peerProven).toBe(false);
    fill(w, 1, 8, 4);
    w.acknowledge(1);
    expect(w.peerProven).toBe(true);
  });

  it('send window: acknowledged bytes earn 1/16 of themselves in budget, never above one window', () => {
    const w = new SendWindow({ blockSize: 1024, windowSize: 64, maxWindowBytes: 1024 * 64 });
    fill(w, 1, 1024);
    w.acknowledge(1); // proven: 64 KiB, the window's worth
    expect(w.budgetBytes).toBe(64 * 1024);
    fill(w, 64, 1024, 2);
    expect(w.resend(0)).toHaveLength(64); // spends it all
    expect(w.budgetBytes).toBe(0);
    w.acknowledge(32);
    expect(w.budgetBytes).toBe((32 * 1024) / 16);
    expect(w.ackedBytes).toBe(33 * 1024);
  });

  it('send window: a resend gives the free blocks at no cost and the rest only while the budget lasts', () => {
    const w = new SendWindow({ blockSize: 100, windowSize: 8 });
    fill(w, 1, 100);
    w.acknowledge(1); // budget: min(8 x 100, 64 KiB) = 800
    fill(w, 8, 100, 2);
    expect(tags(w.resend(8))).toEqual([2, 3, 4, 5, 6, 7, 8, 9]);
    expect(w.budgetBytes).toBe(800);
    expect(tags(w.resend(2))).toEqual([2, 3, 4, 5, 6, 7, 8, 9]);
    expect(w.budgetBytes).toBe(200);
    expect(tags(w.resend(0))).toEqual([2, 3]);
    expect(w.budgetBytes).toBe(0);
    expect(w.resend(0)).toEqual([]);
  });

  it('send window: a fast resend goes to a proven peer only, with blocks in flight, once per window position', () => {
    const w = new SendWindow({ blockSize: 8, windowSize: 4 });
    fill(w, 4, 8);
    expect(w.takeFastResend(1)).toBe(false); // nothing acknowledged: not proven
    w.acknowledge(1);
    expect(w.takeFastResend(2)).toBe(true);
    expect(w.takeFastResend(2)).toBe(false);
    w.acknowledge(3);
    expect(w.takeFastResend(5)).toBe(false); // nothing left in flight
  });

  it('send window: acknowledging drops exactly the oldest blocks, and clear releases the rest', () => {
    const w = new SendWindow({ blockSize: 8, windowSize: 4 });
    fill(w, 4, 8);
    w.acknowledge(2);
    expect(w.inFlight).toBe(2);
    expect(tags([w.oldest?.datagram])).toEqual([3]);
    w.clear();
    expect(w.inFlight).toBe(0);
    expect(w.oldest).toBeUndefined();
  });
});
