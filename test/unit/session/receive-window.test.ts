/**
 * The write session's receive-window accounting on its own: placing DATA blocks, window ends,
 * rollover and the backpressure hold, with no session, link or clock.
 */
import { describe, expect, it } from 'vitest';
import { ReceiveWindow } from '../../../gateway/src/session/receive-window.js';

describe('receive window', () => {
  it('receive window: places the next block, a repeat of the last, and answers a gap once until progress', () => {
    const w = new ReceiveWindow({ windowSize: 4 });
    expect(w.expected).toBe(1);
    expect(w.ackBlock).toBe(0);
    expect(w.place(1)).toBe('next');
    w.accept();
    expect(w.place(1)).toBe('repeat');
    expect(w.place(3)).toBe('gap');
    w.gapAnswered();
    expect(w.place(4)).toBe('ignore');
    expect(w.place(2)).toBe('next');
    w.accept();
    expect(w.place(4)).toBe('gap');
  });

  it('receive window: wire numbers roll over 65535 -> 0 while expected stays absolute', () => {
    const w = new ReceiveWindow({ windowSize: 1 });
    for (let i = 0; i < 65535; i++) w.accept();
    expect(w.expected).toBe(65536);
    expect(w.ackBlock).toBe(65535);
    expect(w.place(0)).toBe('next');
    w.accept();
    expect(w.ackBlock).toBe(0);
    expect(w.place(0)).toBe('repeat');
  });

  it('receive window: a window ends every windowSize blocks, and a restart starts a new one', () => {
    const w = new ReceiveWindow({ windowSize: 3 });
    expect([w.endOfWindow(0), w.endOfWindow(0), w.endOfWindow(0)]).toEqual([undefined, undefined, 'ack']);
    w.endOfWindow(0);
    w.restart();
    expect([w.endOfWindow(0), w.endOfWindow(0), w.endOfWindow(0)]).toEqual([undefined, undefined, 'ack']);
  });

  it('receive window: holds the window ACK past maxUnwrittenBytes, ignores retransmissions meanwhile, releases it once', () => {
    const w = new ReceiveWindow({ windowSize: 1, maxUnwrittenBytes: 1024 });
    w.accept();
    expect(w.endOfWindow(1024)).toBe('ack'); // at the limit, not past it
    w.accept();
    expect(w.endOfWindow(1536)).toBe('hold');
    expect(w.ackHeld).toBe(true);
    expect(w.place(2)).toBe('ignore'); // the repeat of the held block gets no answer
    expect(w.place(3)).toBe('next');
    w.written(256);
    expect(w.release(1536)).toBe(false); // 1280 unwritten: still past the limit
    w.written(256);
    expect(w.release(1536)).toBe(true);
    expect(w.ackHeld).toBe(false);
    expect(w.release(1536)).toBe(false);
  });
});
