/**
 * A port that was free a moment ago on 127.0.0.1: bind port 0, read it, release it. Another
 * process may take it before the caller binds it; tests use it only where a fixed port must be
 * named up front (a server started as a child process, a closed port to fail against).
 */
import { createSocket } from 'node:dgram';
import { createServer } from 'node:net';

export async function freePort(protocol: 'tcp' | 'udp' = 'tcp'): Promise<number> {
  if (protocol === 'udp') {
    const s = createSocket('udp4');
    await new Promise<void>((resolve, reject) => s.once('error', reject).bind(0, '127.0.0.1', resolve));
    const { port } = s.address();
    await new Promise<void>((resolve) => s.close(() => resolve()));
    return port;
  }
  const srv = createServer();
  await new Promise<void>((resolve, reject) => srv.once('error', reject).listen(0, '127.0.0.1', resolve));
  const { port } = srv.address() as { port: number };
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}
