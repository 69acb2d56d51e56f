import { describe, expect, it } from 'vitest';
import type dgram from 'node:dgram';
import { anySendQueued, noteSends } from '../../../../gateway/src/transport/batch-send/queued-sends.js';

/** A socket stand-in whose libuv send queue the test sets (or that is closed: the call throws). */
function fakeSocket(count: { n: number; closed?: boolean }): dgram.Socket {
  return {
    getSendQueueCount: () => {
      if (count.closed) throw new Error('Not running');
      return count.n;
    },
  } as unknown as dgram.Socket;
}

describe('queued sends (read buffer reuse guard)', () => {
  it('queued sends: a socket counts while libuv still holds its sends, and is forgotten once they left or it closed', () => {
    const a = { n: 0 };
    const b = { n: 2 };
    expect(anySendQueued()).toBe(false);
    noteSends(fakeSocket(a)); // nothing queued: not even remembered
    expect(anySendQueued()).toBe(false);
    const sb = fakeSocket(b);
    noteSends(sb);
    expect(anySendQueued()).toBe(true);
    b.n = 1;
    expect(anySendQueued()).toBe(true);
    b.n = 0;
    expect(anySendQueued()).toBe(false);
    const c = { n: 3, closed: false };
    noteSends(fakeSocket(c));
    expect(anySendQueued()).toBe(true);
    c.closed = true; // libuv cancels a closed socket's queue
    expect(anySendQueued()).toBe(false);
  });
});
