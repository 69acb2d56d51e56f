// A free UDP port on loopback, for the bench's stand-alone scripts (request-cpu.mjs,
// idle-rss.mjs): bound and released, so the server they start binds it a moment later.
import { createSocket } from 'node:dgram';

export async function freePort() {
  const s = createSocket('udp4');
  await new Promise((r) => s.bind(0, '127.0.0.1', r));
  const { port } = s.address();
  await new Promise((r) => s.close(r));
  return port;
}
