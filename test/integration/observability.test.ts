/**
 * The observability wiring of startGateway, as an operator configures it: metricsPort serves
 * Prometheus text whose counters match the transfers made (functions included), /readyz
 * follows the gateway's state, and redisUrl makes every session record land in the stream.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { pino } from 'pino';
import { get } from '../../client/index.js';
import { text } from '../../sdk/index.js';
import { makeRoot } from '../helpers/gateway.js';
import { startGateway, type RunningGateway } from '../../gateway/src/index.js';
import { parsePromText, sumOf } from '../helpers/prom-text.js';
import { startRedis, type TestRedis } from '../helpers/redis-server.js';

let redis: TestRedis;
let gw: RunningGateway;
const sizes = [0, 511, 512, 4000];

beforeAll(async () => {
  redis = await startRedis();
  const root = makeRoot(Object.fromEntries(sizes.map((n) => [`f${n}.bin`, Buffer.alloc(n, 7)])));
  gw = await startGateway({
    config: {
      hosts: ['127.0.0.1'],
      port: 0,
      root,
      metricsPort: 0,
      redisUrl: redis.url,
      gatewayId: 'gw-test-1',
      statsFlushMs: 20,
      routes: [{ match: 'fn/**', function: 'hello' }],
      defaultRoute: { folder: root },
    },
    functions: { hello: (r) => text(`hello ${r.path}\n`) },
    logger: pino({ level: 'silent' }),
  });
});

afterAll(async () => {
  await gw?.close(0);
  await redis?.cleanup();
});

async function scrape(): Promise<ReturnType<typeof parsePromText>> {
  const res = await fetch(`http://127.0.0.1:${gw.metricsPort}/metrics`);
  expect(res.status).toBe(200);
  return parsePromText(await res.text());
}

describe('metrics and stats, wired by config', () => {
  test('/metrics counts the transfers made, by outcome and function; invocations are timed', async () => {
    for (const n of sizes) await get({ host: '127.0.0.1', port: gw.port, path: `f${n}.bin` });
    for (let i = 0; i < 3; i++) await get({ host: '127.0.0.1', port: gw.port, path: `fn/x${i}` });
    await get({ host: '127.0.0.1', port: gw.port, path: 'missing.bin' }).catch(() => undefined);
    // The last record is emitted when the server has the final ACK, just after the client returns.
    const end = Date.now() + 3000;
    let m = await scrape();
    while (sumOf(m, 'tftpfn_sessions_total') < 8 && Date.now() < end) {
      await new Promise((r) => setTimeout(r, 20));
      m = await scrape();
    }
    expect(sumOf(m, 'tftpfn_sessions_total', { outcome: 'ok' })).toBe(7);
    expect(sumOf(m, 'tftpfn_sessions_total', { outcome: 'not-found' })).toBe(1);
    expect(sumOf(m, 'tftpfn_function_sessions_total', { function: 'hello' })).toBe(3);
    expect(sumOf(m, 'tftpfn_bytes_sent_total')).toBe(sizes.reduce((a, b) => a + b, 0) + 3 * 'hello fn/x0\n'.length);
    expect(sumOf(m, 'tftpfn_session_duration_seconds_count')).toBe(8);
    expect(sumOf(m, 'tftpfn_function_workers', { function: 'hello' })).toBe(0);
    const health = await fetch(`http://127.0.0.1:${gw.metricsPort}/healthz`);
    expect(health.status).toBe(200);
    const ready = await fetch(`http://127.0.0.1:${gw.metricsPort}/readyz`);
    expect(ready.status).toBe(200);
    expect(gw.ready()).toEqual({ ready: true, reasons: [] });
  });

  test('with redisUrl, every session record reaches the stream, named by its gateway', async () => {
    await get({ host: '127.0.0.1', port: gw.port, path: 'f4000.bin' });
    const end = Date.now() + 5000;
    let entries: unknown[] = [];
    while (Date.now() < end) {
      entries = (await redis.cli('XRANGE', 'tftpfn:sessions', '-', '+')) as unknown[];
      if (entries.length >= 9) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(entries.length).toBe(9);
    const last = entries[entries.length - 1] as [Buffer, Buffer[]];
    const fields = last[1].map((b) => b.toString());
    const record = JSON.parse(fields[fields.indexOf('r') + 1]) as { file: string; bytes: number; blocks: number; outcome: string; gateway: string };
    expect(record).toMatchObject({ file: 'f4000.bin', bytes: 4000, blocks: 8, outcome: 'ok', gateway: 'gw-test-1' });
  });
});
