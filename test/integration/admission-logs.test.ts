/**
 * Issue 9 §2: refusals are visible without being a flood. Every refusal is counted exactly
 * (counters and metrics); log lines and records are sampled: the first refusalLogSamples per
 * reason per refusalLogIntervalMs, then one "suppressed K similar" line for the rest.
 * Before this, a busy refusal left no log line and no record at all.
 */
import { Writable } from 'node:stream';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { startGateway, type SessionRecord } from '../../gateway/src/index.js';
import { GatewayMetrics } from '../../gateway/src/stats/metrics.js';
import { parsePromText, sumOf } from '../helpers/prom-text.js';
import { addressesIn24, Crowd } from './admission-helpers.js';
import { RawPeer, waitUntil } from '../helpers/raw-peer.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

interface Line {
  event?: string;
  outcome?: string;
  reason?: string;
  suppressed?: number;
  msg?: string;
  limit?: string;
}

async function gatewayWithLogs(config: Record<string, unknown>) {
  const root = mkdtempSync(join(tmpdir(), 'tftpfn-admission-'));
  writeFileSync(join(root, 'one.txt'), 'one block\n');
  writeFileSync(join(root, 'big.bin'), Buffer.alloc(200_000, 7));
  const lines: Line[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      for (const l of String(chunk).split('\n')) if (l) lines.push(JSON.parse(l) as Line);
      done();
    },
  });
  const records: SessionRecord[] = [];
  const running = await startGateway({
    config: { hosts: ['127.0.0.1'], port: 0, root, ...config },
    logger: pino({ level: 'info' }, sink),
    onSession: (r) => records.push(r),
  });
  cleanups.push(async () => {
    await running.close(0);
    rmSync(root, { recursive: true, force: true });
  });
  return { running, lines, records };
}

describe('admission: sampled refusal logs', () => {
  it('admission: 2,000 rate-limited requests make at most refusalLogSamples lines and records per interval, plus summaries that account for every one', async () => {
    const intervalMs = 400;
    const { running, lines, records } = await gatewayWithLogs({
      rateLimitExempt: [],
      rateLimitPerClient: 1,
      rateLimitPerClientBurst: 1,
      refusalLogSamples: 5,
      refusalLogIntervalMs: intervalMs,
    });
    const c = running.gateway.counters;
    // 200 sockets of one address, 10 rounds 50 ms apart: about 1 s of flood, 2,000 requests.
    const crowd = await Crowd.open(Array.from({ length: 200 }, () => '127.0.0.2'));
    cleanups.push(() => crowd.close());
    const started = Date.now();
    for (let round = 0; round < 10; round++) {
      crowd.rrqAll(running.port, `f${round}.txt`);
      await new Promise((r) => setTimeout(r, 50));
    }
    // The few admitted requests ask for names that do not exist: ERROR 1, a not-found record.
    const notFound = () => c.sessionsByOutcome['not-found'] ?? 0;
    await waitUntil(() => c.refusedRateLimited + notFound() === 2000, 5000, 'every request decided');
    const floodMs = Date.now() - started;
    const refused = c.refusedRateLimited;
    expect(refused).toBeGreaterThanOrEqual(1990);

    // The summary of the last interval comes on its own timer, after the flood stopped.
    const sampledLines = () => lines.filter((l) => l.event === 'session' && l.outcome === 'rate-limited');
    const summaries = () => lines.filter((l) => l.event === 'refusalsSuppressed' && l.reason === 'rate-limited');
    const accounted = () => sampledLines().length + summaries().reduce((n, l) => n + (l.suppressed ?? 0), 0);
    await waitUntil(() => accounted() === refused, intervalMs * 3 + 2000, 'summaries for every suppressed refusal');

    const intervals = Math.ceil(floodMs / intervalMs) + 1;
    console.log(`[admission figure] ${refused} rate-limited refusals in ${floodMs} ms: ${sampledLines().length} sampled lines and records, ${summaries().length} summary lines (suppressed ${refused - sampledLines().length})`);
    expect(sampledLines().length).toBeLessThanOrEqual(5 * intervals);
    expect(summaries().length).toBeLessThanOrEqual(intervals);
    expect(summaries()[0].msg).toMatch(/^suppressed \d+ similar$/);
    expect(sampledLines()[0]).toMatchObject({ limit: 'client-rate', msg: 'request refused' });
    // Lines about refusals: bounded (at most 6 per interval) while refusals are ~2,000.
    expect(sampledLines().length + summaries().length).toBeLessThanOrEqual(6 * intervals);
    // Records are the sampled ones, with the new outcome; nothing was sent for them.
    const rateRecords = records.filter((r) => r.outcome === 'rate-limited');
    expect(rateRecords).toHaveLength(sampledLines().length);
    expect(rateRecords[0]).toMatchObject({ packetsSent: 0, errorCode: undefined, peer: { address: '127.0.0.2' } });
    expect(c.refusalLogsSuppressed['rate-limited']).toBe(refused - rateRecords.length);
    // Refused requests got no answer: the only ERRORs on the wire are the admitted ones' ERROR 1.
    expect(crowd.countDatagrams((p) => p.op === 5 && p.code !== 1)).toBe(0);
    expect(crowd.countDatagrams((p) => p.op === 5 && p.code === 1)).toBe(notFound());

    // Metrics count every refusal exactly, by reason and rule.
    const metrics = new GatewayMetrics({ gateway: 'test', stats: () => running.stats(), defaultMetrics: false });
    cleanups.push(() => metrics.close());
    const families = parsePromText(await metrics.metrics());
    expect(sumOf(families, 'tftpfn_admission_refusals_total', { reason: 'rate-limited', limit: 'client-rate' })).toBe(refused);
    expect(sumOf(families, 'tftpfn_refused_rate_limited_total')).toBe(refused);
    expect(sumOf(families, 'tftpfn_refusal_logs_suppressed_total', { reason: 'rate-limited' })).toBe(refused - rateRecords.length);
  });

  it('admission: a busy refusal now leaves a log line and a record (sampled), and an answer on the wire', async () => {
    const { running, lines, records } = await gatewayWithLogs({ maxSessions: 1, refusalLogSamples: 3, refusalLogIntervalMs: 60_000, timeoutMs: 5000 });
    const holder = await RawPeer.open();
    cleanups.push(() => holder.close());
    holder.rrq(running.port, 'big.bin');
    await holder.expect(3); // DATA 1, not ACKed: the one session stays open.
    const crowd = await Crowd.open(addressesIn24('127.0.0.20', 50));
    cleanups.push(() => crowd.close());
    crowd.rrqAll(running.port, 'one.txt');
    await waitUntil(() => crowd.countWith((p) => p.op === 5 && p.message === 'server busy, try again later') === 50, 3000, 'ERROR 0 busy to all 50');
    expect(running.gateway.counters.refusalsByLimit.sessions).toBe(50);
    const busyLines = lines.filter((l) => l.event === 'session' && l.outcome === 'busy');
    expect(busyLines).toHaveLength(3);
    expect(busyLines[0]).toMatchObject({ limit: 'sessions', msg: 'request refused' });
    expect(records.filter((r) => r.outcome === 'busy')).toHaveLength(3);
    expect(records.find((r) => r.outcome === 'busy')).toMatchObject({ file: 'one.txt', errorCode: 0, errorMessage: 'server busy, try again later', packetsSent: 1 });
    expect(running.gateway.counters.sessionsByOutcome.busy).toBe(50);

    // The interval (60 s) has not ended, so the 47 held-back refusals are summarised at shutdown.
    expect(lines.filter((l) => l.event === 'refusalsSuppressed')).toHaveLength(0);
    await running.close(0);
    const atStop = lines.filter((l) => l.event === 'refusalsSuppressed' && l.reason === 'busy');
    expect(atStop).toHaveLength(1);
    expect(atStop[0]).toMatchObject({ suppressed: 47, sampled: 3 });
  });
});
