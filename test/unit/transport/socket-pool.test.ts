import { describe, expect, it } from 'vitest';
import dgram from 'node:dgram';
import { SocketPool } from '../../../gateway/src/transport/socket-pool.js';

async function bound(): Promise<dgram.Socket> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', r));
  return s;
}

const isClosed = (s: dgram.Socket) => {
  try {
    s.address();
    return false;
  } catch {
    return true;
  }
};

describe('socket pool', () => {
  it('socket pool: a socket given back is handed out again for the same local address only', async () => {
    const pool = new SocketPool(4);
    const s = await bound();
    s.on('message', () => {});
    pool.give('127.0.0.1', s);
    expect(s.listenerCount('message')).toBe(0);
    expect(pool.take('::1')).toBeUndefined();
    expect(pool.take('127.0.0.1')).toBe(s);
    expect(pool.take('127.0.0.1')).toBeUndefined();
    s.close();
  });

  it('socket pool: beyond its size, and after close, sockets are closed instead of kept', async () => {
    const pool = new SocketPool(1);
    const a = await bound();
    const b = await bound();
    pool.give('127.0.0.1', a);
    pool.give('127.0.0.1', b);
    expect(isClosed(b)).toBe(true);
    pool.close();
    expect(isClosed(a)).toBe(true);
    const c = await bound();
    pool.give('127.0.0.1', c);
    expect(isClosed(c)).toBe(true);
  });
});
