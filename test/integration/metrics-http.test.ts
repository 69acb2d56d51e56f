/**
 * The metrics endpoint against a real gateway: known transfers over UDP on loopback, then
 * /metrics fetched over HTTP, parsed strictly, and its counters compared with what was sent.
 */
import { rmSync } from 'node:fs';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { get } from '../../client/index.js';
import { startGateway, type RunningGateway, type SessionRecord } from '../../gateway/src/index.js';
import { startMetricsServer, type MetricsServer, type Readiness } from '../../gateway/src/stats/http-server.js';
import { GatewayMetrics } from '../../gateway/src/stats/metrics.js';
import { makeRoot } from '../helpers/gateway.js';
import { parsePromText, samples, sumOf } from '../helpers/prom-text.js';

/** Edges of 512-byte blocks, an empty file and a multi-block one. */
const SIZES = [0, 1, 511, 512, 513, 4096, 70_000];
const MISSING = ['missing-1', 'missing-2', 'nested/missing-3'];

const files: Record<string, Uint8Array> = {};
SIZES.forEach((size, i) => {
  files[`f${i}.bin`] = Uint8Array.from({ length: size }, (_, j) => (i * 31 + j) & 0xff);
});

let root: string;
let gateway: RunningGateway;
let metrics: GatewayMetrics;
let server: MetricsServer;
let readiness: Readiness = { ready: true, reasons: [] };
const records: SessionRecord[] = [];
const logger = pino({ level: process.env.TFTPFN_TEST_LOG ?? 'silent' });

/** Resolves once `n` session records arrived: the gateway emits one after the last ACK, which may come after the client returns. */
async function waitForRecords(n: number, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (records.length < n) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${n} session records (have ${records.length})`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const url = (path: string) => `http://127.0.0.1:${server.port}${path}`;
const fetchBounded = (path: string, init: RequestInit = {}) => fetch(url(path), { ...init, signal: AbortSignal.timeout(5_000) });

beforeAll(async () => {
  root = makeRoot(files);
  gateway = await startGateway({
    config: { hosts: ['127.0.0.1'], port: 0, root, gatewayId: 'gw-metrics-test' },
    logger,
    onSession: (r) => {
      records.push(r);
      metrics.observeSession(r);
    },
  });
  metrics = new GatewayMetrics({ gateway: 'gw-metrics-test', stats: () => gateway.stats() });
  server = await startMetricsServer({ host: '127.0.0.1', port: 0, metrics, ready: () => readiness, logger });
});

afterAll(async () => {
  await server?.close();
  metrics?.close();
  await gateway?.close(0);
  if (root) rmSync(root, { recursive: true, force: true });
});

describe('metrics endpoint', () => {
  it('metrics: /metrics parses as Prometheus text and its counters match the transfers made', async () => {
    for (const [i, size] of SIZES.entries()) {
      const { data } = await get({ host: '127.0.0.1', port: gateway.port, path: `f${i}.bin`, timeoutMs: 500, retries: 5 });
      expect(data?.length).toBe(size);
    }
    for (const path of MISSING) {
      await expect(get({ host: '127.0.0.1', port: gateway.port, path, timeoutMs: 500, retries: 5 })).rejects.toMatchObject({ tftpCode: 1 });
    }
    await waitForRecords(SIZES.length + MISSING.length);

    const res = await fetchBounded('/metrics');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4; charset=utf-8$/);
    const p = parsePromText(await res.text());

    expect(sumOf(p, 'tftpfn_sessions_total', { outcome: 'ok', kind: 'read' })).toBe(7);
    expect(sumOf(p, 'tftpfn_sessions_total', { outcome: 'not-found' })).toBe(3);
    expect(sumOf(p, 'tftpfn_sessions_total')).toBe(10);
    expect(samples(p, 'tftpfn_sessions_total', { outcome: 'ok' }).every((s) => s.labels.source === 'folder' && s.labels.function === '')).toBe(true);
    const totalBytes = SIZES.reduce((a, b) => a + b, 0);
    expect(sumOf(p, 'tftpfn_bytes_sent_total')).toBe(totalBytes);
    expect(sumOf(p, 'tftpfn_bytes_received_total')).toBe(0);
    expect(sumOf(p, 'tftpfn_session_duration_seconds_count')).toBe(10);
    expect(sumOf(p, 'tftpfn_session_duration_seconds_count', { outcome: 'ok' })).toBe(7);
    expect(sumOf(p, 'tftpfn_session_duration_seconds_bucket', { outcome: 'not-found', le: '+Inf' })).toBe(3);
    // No loss on loopback: nothing resent (a retransmit here would be a gateway bug).
    expect(sumOf(p, 'tftpfn_retransmits_total')).toBe(gateway.stats().counters.retransmits);

    // The pulled metrics agree with the gateway's own counters.
    const c = gateway.stats().counters;
    expect(sumOf(p, 'tftpfn_sessions_started_total')).toBe(c.sessionsStarted);
    expect(c.sessionsStarted).toBe(7);
    expect(sumOf(p, 'tftpfn_sessions_active')).toBe(0);
    expect(sumOf(p, 'tftpfn_malformed_packets_total')).toBe(0);
    expect(c.bytesSent).toBe(totalBytes);

    // Every series names this gateway; process metrics are there with the prefix.
    for (const f of p.values()) for (const s of f.samples) expect(s.labels.gateway).toBe('gw-metrics-test');
    expect(p.get('tftpfn_process_resident_memory_bytes')?.type).toBe('gauge');
    expect(p.get('tftpfn_event_loop_lag_seconds')?.type).toBe('gauge');
  });

  it('metrics: HEAD /metrics answers the headers only', async () => {
    const res = await fetchBounded('/metrics', { method: 'HEAD' });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(await res.text()).toBe('');
  });

  it('health: /healthz answers 200 ok', async () => {
    const res = await fetchBounded('/healthz');
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('ok\n');
  });

  it('readiness: /readyz is 200 when ready and 503 with the reasons when not', async () => {
    readiness = { ready: true, reasons: [] };
    let res = await fetchBounded('/readyz');
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('ready\n');

    readiness = { ready: false, reasons: ['function grub has no version loaded', 'listeners not bound'] };
    res = await fetchBounded('/readyz');
    expect(res.status).toBe(503);
    const body = await res.text();
    expect(body).toContain('function grub has no version loaded');
    expect(body).toContain('listeners not bound');

    // Serving, but from cached versions (the control plane is unreachable): 200, and it says so.
    readiness = { ready: true, reasons: ['degraded: control plane unreachable, serving cached versions'] };
    res = await fetchBounded('/readyz');
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('ready\n- degraded: control plane unreachable, serving cached versions\n');
    readiness = { ready: true, reasons: [] };
  });

  it('readiness: a readiness callback that throws is a 503, not a crash', async () => {
    const throwing = await startMetricsServer({
      host: '127.0.0.1',
      port: 0,
      metrics,
      ready: () => {
        throw new Error('boom');
      },
      logger,
    });
    try {
      const res = await fetch(`http://127.0.0.1:${throwing.port}/readyz`, { signal: AbortSignal.timeout(5_000) });
      expect(res.status).toBe(503);
      expect(await res.text()).toContain('readiness check failed: boom');
    } finally {
      await throwing.close();
    }
  });

  it('routing: unknown paths are 404 and other methods 405', async () => {
    expect((await fetchBounded('/nope')).status).toBe(404);
    const post = await fetchBounded('/metrics', { method: 'POST', body: 'x' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD');
    // A query string does not change the route (scrapers may add one).
    expect((await fetchBounded('/healthz?x=1')).status).toBe(200);
  });

  it('listen: a port already in use rejects instead of throwing later', async () => {
    await expect(startMetricsServer({ host: '127.0.0.1', port: server.port, metrics, ready: () => readiness, logger })).rejects.toMatchObject({ code: 'EADDRINUSE' });
  });
});
