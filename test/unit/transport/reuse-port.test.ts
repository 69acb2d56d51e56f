/**
 * Issue 14: where Node has dgram reusePort (22.12+, 23.1+), `serve --processes N` gives each
 * process its own listening socket (SO_REUSEPORT); on Node 20 the cluster's shared handle stays.
 */
import { describe, expect, it } from 'vitest';
import { bindUdp, listenSharing, reserveListenPort, reusePortAvailable } from '../../../gateway/src/transport/bind.js';

describe('reuse-port', () => {
  it('reuse-port: available from Node 22.12 and 23.1, on Linux and FreeBSD only', () => {
    const cases: [string, string, boolean][] = [
      ['20.20.2', 'linux', false],
      ['22.11.0', 'linux', false],
      ['22.12.0', 'linux', true],
      ['23.0.0', 'linux', false],
      ['23.1.0', 'linux', true],
      ['24.22.3', 'linux', true],
      ['24.22.3', 'freebsd', true],
      ['24.22.3', 'darwin', false],
      ['24.22.3', 'win32', false],
    ];
    for (const [version, platform, want] of cases) expect(reusePortAvailable(version, platform), `${version} ${platform}`).toBe(want);
  });

  it('reuse-port: the sharing mode follows the process count and the runtime', () => {
    expect(listenSharing(1, true)).toBe('single');
    expect(listenSharing(2, true)).toBe('reusePort');
    expect(listenSharing(2, false)).toBe('clusterShared');
  });

  it('reuse-port: two sockets of this process bind one port with reusePort exactly where the runtime has it', async () => {
    const a = await bindUdp({ address: '127.0.0.1', family: 'IPv4', port: 0, exclusive: true, reusePort: true, bufferBytes: 0 });
    try {
      const port = a.address().port;
      const second = bindUdp({ address: '127.0.0.1', family: 'IPv4', port, exclusive: true, reusePort: true, bufferBytes: 0 });
      if (reusePortAvailable()) {
        const b = await second;
        expect(b.address().port).toBe(port);
        b.close();
      } else {
        // Node 20 ignores the option: the second bind is refused as before.
        await expect(second).rejects.toMatchObject({ code: 'EADDRINUSE' });
      }
    } finally {
      a.close();
    }
  });

  it('reuse-port: the primary reserves a port free on every address, and refuses one a server holds', async () => {
    const port = await reserveListenPort(['127.0.0.1'], 0);
    expect(port).toBeGreaterThan(0);
    // Reserving lets go of the port: it can be bound again at once.
    const again = await bindUdp({ address: '127.0.0.1', family: 'IPv4', port, exclusive: true, bufferBytes: 0 });
    try {
      // Held by a plain socket (another server): refused with the address, the port and the fix.
      await expect(reserveListenPort(['127.0.0.1'], port)).rejects.toThrow(`cannot listen on 127.0.0.1 port ${port}`);
      await expect(reserveListenPort(['127.0.0.1'], port)).rejects.toThrow('pick another --port');
    } finally {
      again.close();
    }
  });
});
