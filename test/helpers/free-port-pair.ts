/**
 * Two free TCP ports in a row (free-port.ts gives one), for a CLI that derives ports from a
 * base (serve --processes N puts process i's metrics on metricsPort + i): probed by listening
 * on them; another process may still take one before the CLI does, which a test then sees as
 * a bind error, not a hang.
 */
import { createServer } from 'node:net';

const free = (port: number) =>
  new Promise<boolean>((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });

/** Two consecutive free TCP ports on 127.0.0.1 (bounded: 50 random tries). */
export async function freePortPair(): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const base = 20_000 + Math.floor(Math.random() * 12_000);
    if ((await free(base)) && (await free(base + 1))) return base;
  }
  throw new Error('no two consecutive free TCP ports');
}
