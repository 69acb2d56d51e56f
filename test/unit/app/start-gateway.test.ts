/**
 * startGateway's teardown on real loopback sockets: a start that fails halfway closes what had
 * started (no socket, server or timer left), and close() drains with /readyz still answering.
 */
import { createSocket, type Socket } from 'node:dgram';
import { pino } from 'pino';
import { describe, expect, it, vi } from 'vitest';
import { startGateway } from '../../../gateway/src/app/start-gateway.js';
import { text } from '../../../sdk/index.js';
import { FunctionRuntime } from '../../../gateway/src/runtime/function-runtime.js';
import { makeRoot } from '../../helpers/gateway.js';

const logger = pino({ level: 'silent' });

/** Open handles of the kinds start-up creates (UDP sockets, TCP servers, ref'd timers). */
function handles(): Record<string, number> {
  const out: Record<string, number> = { UDPWrap: 0, TCPServerWrap: 0, Timeout: 0 };
  for (const r of process.getActiveResourcesInfo()) if (r in out) out[r]++;
  return out;
}

function bindUdp(address: string, port: number): Promise<Socket> {
  const s = createSocket('udp4');
  return new Promise((resolve, reject) => s.once('error', reject).bind({ address, port, exclusive: true }, () => resolve(s)));
}

/**
 * Waits (bounded, 1 s) until what a start left open is gone: dgram emits 'close' a tick before
 * libuv lets go of the handle, so a socket closed just now is still listed for a loop turn or
 * two. Sockets and servers must be back to `before` exactly; timers may only be fewer (one that
 * was running before, not ours, may have fired meanwhile). Returns the last count.
 */
async function settledHandles(before: Record<string, number>): Promise<Record<string, number>> {
  const end = Date.now() + 1000;
  const settled = (h: Record<string, number>) => h.UDPWrap === before.UDPWrap && h.TCPServerWrap === before.TCPServerWrap && h.Timeout <= before.Timeout;
  let now = handles();
  while (!settled(now) && Date.now() < end) {
    await new Promise((resolve) => setTimeout(resolve, 10));
    now = handles();
  }
  // Reported as `before` when settled, so a failure shows exactly what was left open.
  return settled(now) ? before : now;
}

/** The open handles once nothing has been closing for a while (3 equal samples 10 ms apart, at most 1 s). */
async function quietHandles(): Promise<Record<string, number>> {
  const end = Date.now() + 1000;
  let last = JSON.stringify(handles());
  for (let same = 0; same < 3 && Date.now() < end; ) {
    await new Promise((resolve) => setTimeout(resolve, 10));
    const now = JSON.stringify(handles());
    same = now === last ? same + 1 : 0;
    last = now;
  }
  return JSON.parse(last) as Record<string, number>;
}

const close = (s: Socket) => new Promise<void>((resolve) => s.close(() => resolve()));

describe('startGateway teardown', () => {
  it('start gateway: a start that binds one address and fails on the next closes the first and the metrics server, and never calls the stats hook', async () => {
    const holder = await bindUdp('127.0.0.2', 0);
    const port = holder.address().port;
    try {
      const before = await quietHandles();
      const stats: unknown[] = [];
      await expect(
        startGateway({
          config: { hosts: ['127.0.0.1', '127.0.0.2'], port, root: makeRoot(), metricsPort: 0, logLevel: 'silent' },
          functions: { main: () => text('x') },
          logger,
          onServerStats: (s) => stats.push(s),
          serverStatsIntervalMs: 100,
        }),
      ).rejects.toThrow(/cannot listen on 127\.0\.0\.2/);
      expect(await settledHandles(before)).toEqual(before);
      // The first address was bound by the failed start; it is free again.
      await close(await bindUdp('127.0.0.1', port));
      expect(stats).toEqual([]);
    } finally {
      await close(holder);
    }
  });

  it('start gateway: a metrics port in use fails the start naming the field, and leaves nothing open', async () => {
    const first = await startGateway({ config: { hosts: ['127.0.0.1'], port: 0, root: makeRoot(), metricsPort: 0 }, logger });
    try {
      const before = await quietHandles();
      await expect(
        startGateway({ config: { hosts: ['127.0.0.1'], port: 0, root: makeRoot(), metricsPort: first.metricsPort }, functions: { main: () => text('x') }, logger }),
      ).rejects.toThrow(`field "metricsPort": cannot listen on 127.0.0.1:${first.metricsPort}`);
      expect(await settledHandles(before)).toEqual(before);
    } finally {
      await first.close(0);
    }
  });

  it('start gateway: a remap file that cannot be read, found after the function runtime started, closes the runtime once', async () => {
    const before = await quietHandles();
    const close = vi.spyOn(FunctionRuntime.prototype, 'close');
    try {
      await expect(
        startGateway({
          config: { hosts: ['127.0.0.1'], port: 0, root: makeRoot(), deployDir: makeRoot(), remapFile: '/nonexistent/tftpfn-remap' },
          functions: { main: () => text('x') },
          logger,
        }),
      ).rejects.toThrow('field "remapFile": cannot read /nonexistent/tftpfn-remap');
      expect(close).toHaveBeenCalledTimes(1);
      expect(close).toHaveBeenCalledWith(0);
    } finally {
      close.mockRestore();
    }
    expect(await settledHandles(before)).toEqual(before);
  });

  it('start gateway: close() reports shutting down at once, serves /readyz through the drain, and runs once', async () => {
    const root = makeRoot({ 'a.bin': new Uint8Array(5_000) });
    const gw = await startGateway({ config: { hosts: ['127.0.0.1'], port: 0, root, metricsPort: 0 }, logger });
    expect(gw.ready()).toEqual({ ready: true, reasons: [] });
    // A read the client acknowledges once, then stalls: the session (retrying for ~5 s) stays
    // in flight for the whole grace.
    const client = await bindUdp('127.0.0.1', 0);
    const next = () => new Promise<{ msg: Buffer; port: number }>((resolve) => client.once('message', (msg, rinfo) => resolve({ msg, port: rinfo.port })));
    let data = next();
    client.send(Buffer.from('\x00\x01a.bin\x00octet\x00', 'latin1'), gw.port, '127.0.0.1');
    const first = await data;
    expect(first.msg.readUInt32BE(0)).toBe(0x0003_0001);
    data = next();
    client.send(Buffer.from([0, 4, 0, 1]), first.port, '127.0.0.1');
    expect((await data).msg.readUInt32BE(0)).toBe(0x0003_0002);
    const closeStartedMs = performance.now();
    try {
      const closing = gw.close(2_000);
      expect(gw.close(0)).toBe(closing);
      expect(gw.ready()).toEqual({ ready: false, reasons: ['shutting down'] });
      const res = await fetch(`http://127.0.0.1:${gw.metricsPort}/readyz`, { signal: AbortSignal.timeout(1_500) });
      expect(res.status).toBe(503);
      expect(await res.text()).toBe('not ready\n- shutting down\n');
      await closing;
      // The grace ran out with the session still in flight (it was aborted, not finished).
      expect(performance.now() - closeStartedMs).toBeGreaterThanOrEqual(1_900);
      await expect(fetch(`http://127.0.0.1:${gw.metricsPort}/readyz`, { signal: AbortSignal.timeout(1_500) })).rejects.toThrow();
    } finally {
      await close(client);
    }
  });
});
