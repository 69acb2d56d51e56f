/**
 * What the reflection defences cost legitimate clients (issue 9, section 1), measured on
 * loopback and printed with a `[reflection cost]` tag for docs/RELIABILITY.md:
 *  - fresh random session ports (the default) against reusing sockets (`sessionSocketPool`),
 *    for many small files: the speed the pool bought;
 *  - single-port slow start against atftp, an RFC 7440 client that ACKs once per window.
 * Each case also checks that every transfer succeeded byte for byte.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { runLoad } from '../../client/index.js';
import { startTestGateway } from '../helpers/gateway.js';
import { seededBytes, testSeed } from '../helpers/seeded.js';

const SEED = testSeed(0x9ef1_00c0);
const execFileP = promisify(execFile);

describe('reflection cost: session ports', () => {
  it('reflection cost: 1 KiB files with fresh ports and with a socket pool all succeed; the throughput of each is printed', async () => {
    const rates: Record<string, number[]> = { fresh: [], pool: [] };
    // Interleaved rounds, so a busy moment on the machine hits both alike.
    for (let round = 0; round < 2; round++) {
      for (const [mode, sessionSocketPool] of [['fresh', 0], ['pool', 1024]] as const) {
        const gw = await startTestGateway({ files: { 'k.bin': seededBytes(SEED, 1024) }, config: { sessionSocketPool, maxSessionsPerClient: 1000 } });
        try {
          const t0 = performance.now();
          const r = await runLoad({ host: '127.0.0.1', port: gw.port, path: 'k.bin', concurrency: 20, count: 3000, timeoutMs: 1000, retries: 3 });
          const s = (performance.now() - t0) / 1000;
          expect(r.failures).toBe(0);
          expect(r.requests).toBe(3000);
          rates[mode].push(Math.round(r.requests / s));
        } finally {
          await gw.stop();
        }
      }
    }
    console.log(`[reflection cost] 3000 x 1 KiB, concurrency 20: fresh ports ${rates.fresh.join(', ')} req/s; sessionSocketPool 1024: ${rates.pool.join(', ')} req/s`);
  }, 120_000);
});

describe('reflection cost: single-port slow start', () => {
  it('reflection cost: atftp (blksize 1468, windowsize 16) gets 1 MiB in single-port mode with slowStartBlocks 1, 4 and 64', async () => {
    const body = seededBytes(SEED + 1, 1024 * 1024 + 1);
    const dir = mkdtempSync(join(tmpdir(), 'tftpfn-cost-'));
    const times: string[] = [];
    try {
      for (const slowStartBlocks of [64, 4, 1]) {
        const gw = await startTestGateway({ files: { 'x.bin': body }, config: { singlePort: true, singlePortSlowStart: slowStartBlocks !== 64, slowStartBlocks } });
        try {
          const out = join(dir, `x-${slowStartBlocks}`);
          const t0 = performance.now();
          await execFileP('atftp', ['--option', 'blksize 1468', '--option', 'tsize 0', '--option', 'windowsize 16', '-g', '-r', 'x.bin', '-l', out, '127.0.0.1', String(gw.port)], { timeout: 30_000 });
          times.push(`${slowStartBlocks}: ${Math.round(performance.now() - t0)} ms`);
          expect(readFileSync(out).equals(body)).toBe(true);
        } finally {
          await gw.stop();
        }
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    console.log(`[reflection cost] atftp windowsize 16 (11 granted), 1 MiB, single-port, by slowStartBlocks: ${times.join('; ')}`);
  }, 120_000);
});
