import { afterEach, describe, expect, it } from 'vitest';
import { register as globalRegistry } from 'prom-client';
import type { ServerStats } from '../../../gateway/src/index.js';
import { GatewayMetrics, processListenSharing } from '../../../gateway/src/stats/metrics.js';
import type { SessionRecord } from '../../../gateway/src/stats/session-record.js';
import { sessionRecord } from '../../helpers/session-record.js';
import { newServerCounters } from '../../../gateway/src/stats/counters.js';
import { PromParseError, parsePromText, samples, sumOf } from '../../helpers/prom-text.js';

function record(over: Partial<SessionRecord> = {}): SessionRecord {
  return sessionRecord({ endedAt: new Date(0).toISOString(), ...over });
}

function stats(over: Partial<ServerStats> = {}): ServerStats {
  return { at: new Date(0).toISOString(), counters: newServerCounters(), functions: [], objects: undefined, kv: undefined, statsSink: undefined, ...over };
}

const made: GatewayMetrics[] = [];
function metrics(opts: ConstructorParameters<typeof GatewayMetrics>[0]): GatewayMetrics {
  const m = new GatewayMetrics({ defaultMetrics: false, ...opts });
  made.push(m);
  return m;
}
afterEach(() => {
  for (const m of made.splice(0)) m.close();
});

describe('GatewayMetrics', () => {
  it('observeSession: counts sessions by outcome, kind, function and source, and bytes by direction', async () => {
    const m = metrics({ gateway: 'gw-a' });
    m.observeSession(record({ bytes: 1000, retransmits: 2, durationMs: 4 }));
    m.observeSession(record({ bytes: 24, durationMs: 2000 }));
    m.observeSession(record({ kind: 'write', bytes: 300, source: undefined }));
    m.observeSession(record({ outcome: 'not-found', bytes: 0, source: undefined, function: 'grub', version: 'v2' }));
    const p = parsePromText(await m.metrics());

    expect(samples(p, 'tftpfn_sessions_total', { outcome: 'ok', kind: 'read', function: '', source: 'folder' })[0].value).toBe(2);
    expect(samples(p, 'tftpfn_sessions_total', { outcome: 'ok', kind: 'write' })[0].value).toBe(1);
    expect(samples(p, 'tftpfn_sessions_total', { outcome: 'not-found', function: 'grub' })[0].value).toBe(1);
    expect(sumOf(p, 'tftpfn_bytes_sent_total')).toBe(1024);
    expect(sumOf(p, 'tftpfn_bytes_received_total')).toBe(300);
    expect(sumOf(p, 'tftpfn_retransmits_total')).toBe(2);
    expect(sumOf(p, 'tftpfn_session_duration_seconds_count', { outcome: 'ok' })).toBe(3);
    expect(sumOf(p, 'tftpfn_session_duration_seconds_sum', { outcome: 'ok' })).toBeCloseTo(2.007, 6);
    // 4 ms lands in the 5 ms bucket, 2 s only from 2.5 s on.
    expect(sumOf(p, 'tftpfn_session_duration_seconds_bucket', { outcome: 'ok', le: '0.005' })).toBe(2);
    expect(sumOf(p, 'tftpfn_session_duration_seconds_bucket', { outcome: 'ok', le: '1' })).toBe(2);
    expect(sumOf(p, 'tftpfn_session_duration_seconds_bucket', { outcome: 'ok', le: '2.5' })).toBe(3);
    expect(samples(p, 'tftpfn_function_sessions_total')).toEqual([
      { name: 'tftpfn_function_sessions_total', labels: { function: 'grub', version: 'v2', outcome: 'not-found', gateway: 'gw-a' }, value: 1 },
    ]);
    // Every series carries the gateway label.
    for (const f of p.values()) for (const s of f.samples) expect(s.labels.gateway).toBe('gw-a');
  });

  it('observeReload and observeInvocation: count reloads by result and time invocations', async () => {
    const m = metrics({ gateway: 'gw-a' });
    m.observeReload({ function: 'grub', version: 'v1', previous: undefined, ok: true, loadMs: 12 });
    m.observeReload({ function: 'grub', version: 'v2', previous: 'v1', ok: false, loadMs: 3, error: 'syntax' });
    m.observeReload({ function: 'grub', version: 'v3', previous: 'v1', ok: true, loadMs: 5 });
    m.observeInvocation('grub', 0.002, 'ok');
    m.observeInvocation('grub', 0.5, 'timeout');
    m.observeInvocation('grub', Number.NaN, 'ok');
    const p = parsePromText(await m.metrics());
    expect(samples(p, 'tftpfn_function_reloads_total', { function: 'grub', result: 'ok' })[0].value).toBe(2);
    expect(samples(p, 'tftpfn_function_reloads_total', { function: 'grub', result: 'error' })[0].value).toBe(1);
    expect(samples(p, 'tftpfn_function_invocation_seconds_count', { function: 'grub', outcome: 'ok' })[0].value).toBe(1);
    expect(samples(p, 'tftpfn_function_invocation_seconds_count', { function: 'grub', outcome: 'timeout' })[0].value).toBe(1);
    expect(p.get('tftpfn_function_invocation_seconds')?.type).toBe('histogram');
  });

  it('collect: exports the stats snapshot as gauges and counters with its absolute values', async () => {
    let s = stats({
      counters: { ...newServerCounters(), sessionsActive: 3, sessionsStarted: 10, malformedPackets: 4, strangerPackets: 1, deniedClients: 2, refusedBusy: 5, duplicateRequests: 6, strangerRepliesSuppressed: 7 },
      functions: [
        { name: 'grub', source: 'deploy', version: 'v7', workers: 2, inflight: 3, draining: 1, totals: { invocations: 40, failures: 3, timeouts: 2, crashes: 1, retries: 1, restarts: 1 } },
        { name: 'hello', source: 'in-process', version: 'in-process', workers: 0, inflight: 0, draining: 0, totals: { invocations: 0, failures: 0, timeouts: 0, crashes: 0, retries: 0, restarts: 0 } },
      ],
      objects: {
        cacheHits: 8, cacheMisses: 2, coalesced: 1, bytesFromCache: 800, bytesFromBucket: 200,
        upstreamHeads: 3, upstreamGets: 2, upstreamErrors: 1, notModified: 0, store: 's3', memoryHeldBytes: 4096,
      },
      kv: { hits: 5, misses: 4, bypassed: 3, errors: 2, integrityFailures: 11, kind: 'redis', available: false },
      statsSink: { pushed: 12, flushed: 9, dropped: 1, buffered: 2, batches: 3, flushErrors: 1 },
    });
    const m = metrics({ gateway: 'gw-a', stats: () => s });
    let p = parsePromText(await m.metrics());
    const one = (name: string, match: Record<string, string> = {}) => {
      const got = samples(p, name, match);
      expect(got, `${name} ${JSON.stringify(match)}`).toHaveLength(1);
      return got[0].value;
    };
    expect(one('tftpfn_sessions_active')).toBe(3);
    expect(one('tftpfn_function_pool_events_total', { function: 'grub', event: 'crash' })).toBe(1);
    expect(one('tftpfn_function_pool_events_total', { function: 'grub', event: 'invocation' })).toBe(40);
    expect(p.get('tftpfn_function_pool_events_total')?.type).toBe('counter');
    expect(one('tftpfn_stats_records_total', { result: 'flushed' })).toBe(9);
    expect(one('tftpfn_stats_records_total', { result: 'dropped' })).toBe(1);
    expect(one('tftpfn_stats_records_buffered')).toBe(2);
    expect(p.get('tftpfn_sessions_active')?.type).toBe('gauge');
    expect(one('tftpfn_sessions_started_total')).toBe(10);
    expect(p.get('tftpfn_malformed_packets_total')?.type).toBe('counter');
    expect(one('tftpfn_malformed_packets_total')).toBe(4);
    expect(one('tftpfn_stranger_packets_total')).toBe(1);
    expect(one('tftpfn_denied_clients_total')).toBe(2);
    expect(one('tftpfn_refused_busy_total')).toBe(5);
    expect(one('tftpfn_duplicate_requests_total')).toBe(6);
    expect(one('tftpfn_function_workers', { function: 'grub' })).toBe(2);
    expect(one('tftpfn_function_inflight', { function: 'grub' })).toBe(3);
    expect(one('tftpfn_function_versions_draining', { function: 'grub' })).toBe(1);
    expect(one('tftpfn_function_info', { function: 'grub', version: 'v7', source: 'deploy' })).toBe(1);
    expect(one('tftpfn_object_cache_hits_total')).toBe(8);
    expect(one('tftpfn_object_cache_misses_total')).toBe(2);
    expect(one('tftpfn_object_bytes_total', { from: 'cache' })).toBe(800);
    expect(one('tftpfn_object_bytes_total', { from: 'bucket' })).toBe(200);
    expect(one('tftpfn_upstream_requests_total', { op: 'head' })).toBe(3);
    expect(one('tftpfn_upstream_requests_total', { op: 'get' })).toBe(2);
    expect(one('tftpfn_upstream_errors_total')).toBe(1);
    expect(one('tftpfn_object_memory_held_bytes')).toBe(4096);
    expect(one('tftpfn_kv_available', { kind: 'redis' })).toBe(0);
    expect(one('tftpfn_kv_calls_total', { result: 'hit' })).toBe(5);
    expect(one('tftpfn_kv_calls_total', { result: 'error' })).toBe(2);
    expect(one('tftpfn_kv_calls_total', { result: 'integrity-failure' })).toBe(11);
    expect(one('tftpfn_stranger_replies_suppressed_total')).toBe(7);

    // A second scrape shows the new absolute values, not a sum with the first, and a
    // function that went away leaves no series behind.
    s = stats({ ...s, counters: { ...s.counters, malformedPackets: 9 }, functions: [s.functions[1]] });
    p = parsePromText(await m.metrics());
    expect(one('tftpfn_malformed_packets_total')).toBe(9);
    expect(samples(p, 'tftpfn_function_workers', { function: 'grub' })).toHaveLength(0);
    expect(one('tftpfn_function_workers', { function: 'hello' })).toBe(0);
  });

  it('collect: a stats callback that throws does not fail the scrape', async () => {
    const m = metrics({
      gateway: 'gw-a',
      stats: () => {
        throw new Error('boom');
      },
    });
    const p = parsePromText(await m.metrics());
    expect(samples(p, 'tftpfn_sessions_active')[0].value).toBe(0);
  });

  it('listen_info: one series, sharing = the mode given (reusePort, clusterShared, single), else this process\'s (not a cluster worker: single)', async () => {
    for (const sharing of ['reusePort', 'clusterShared', 'single'] as const) {
      const p = parsePromText(await metrics({ gateway: 'gw-a', listenSharing: sharing }).metrics());
      expect(samples(p, 'tftpfn_listen_info').map((x) => [x.labels.sharing, x.labels.gateway, x.value])).toEqual([[sharing, 'gw-a', 1]]);
    }
    expect(processListenSharing()).toBe('single');
    const p = parsePromText(await metrics({ gateway: 'gw-a' }).metrics());
    expect(samples(p, 'tftpfn_listen_info').map((x) => [x.labels.sharing, x.value])).toEqual([['single', 1]]);
  });

  it('registry: two instances coexist, each with its own series, and the global registry stays empty', async () => {
    const before = (await globalRegistry.getMetricsAsJSON()).length;
    const a = metrics({ gateway: 'gw-a', defaultMetrics: true });
    const b = metrics({ gateway: 'gw-b', defaultMetrics: true });
    a.observeSession(record());
    a.observeSession(record());
    b.observeSession(record());
    const pa = parsePromText(await a.metrics());
    const pb = parsePromText(await b.metrics());
    expect(sumOf(pa, 'tftpfn_sessions_total')).toBe(2);
    expect(sumOf(pb, 'tftpfn_sessions_total')).toBe(1);
    expect(samples(pb, 'tftpfn_sessions_total')[0].labels.gateway).toBe('gw-b');
    // prom-client's process metrics, prefixed, on each registry, plus our explicit lag gauge.
    expect(pa.has('tftpfn_process_cpu_seconds_total')).toBe(true);
    expect(pa.has('tftpfn_nodejs_eventloop_lag_seconds')).toBe(true);
    expect(samples(pa, 'tftpfn_event_loop_lag_seconds')[0].value).toBeGreaterThanOrEqual(0);
    expect((await globalRegistry.getMetricsAsJSON()).length).toBe(before);
    expect(a.contentType).toMatch(/^text\/plain; version=0\.0\.4/);
  });
});

describe('parsePromText', () => {
  const good = [
    '# HELP x_total A counter, with an escaped \\\\ and a \\n.',
    '# TYPE x_total counter',
    'x_total{a="1",b="q\\"uote\\\\ \\n"} 3 1700000000000',
    'x_total{a="2",} 1e3',
    '# TYPE h histogram',
    'h_bucket{le="0.1"} 1',
    'h_bucket{le="+Inf"} 2',
    'h_sum 0.3',
    'h_count 2',
    'g NaN',
    'g2 -Inf',
    '',
  ].join('\n');

  it('accepts valid text: escapes, trailing commas, timestamps, NaN and Inf', () => {
    const p = parsePromText(good);
    expect(p.get('x_total')?.help).toBe('A counter, with an escaped \\ and a \n.');
    expect(samples(p, 'x_total', { a: '1' })[0]).toEqual({ name: 'x_total', labels: { a: '1', b: 'q"uote\\ \n' }, value: 3, timestampMs: 1700000000000 });
    expect(samples(p, 'x_total', { a: '2' })[0].value).toBe(1000);
    expect(p.get('h')?.samples).toHaveLength(4);
    expect(samples(p, 'g')[0].value).toBeNaN();
    expect(samples(p, 'g2')[0].value).toBe(-Infinity);
  });

  const bad: [string, string][] = [
    ['no final newline', 'a 1'],
    ['a bad metric name', '0abc 1\n'],
    ['a bad label name', 'a{0b="x"} 1\n'],
    ['an unquoted label value', 'a{b=x} 1\n'],
    ['an unknown escape', 'a{b="\\t"} 1\n'],
    ['an unterminated label value', 'a{b="x} 1\n'],
    ['a duplicate label', 'a{b="1",b="2"} 1\n'],
    ['a bad value', 'a 1.2.3\n'],
    ['a missing value', 'a{b="1"}\n'],
    ['a bad timestamp', 'a 1 1.5\n'],
    ['a duplicate series', 'a{b="1"} 1\na{b="1"} 2\n'],
    ['an unknown TYPE', '# TYPE a countr\na 1\n'],
    ['TYPE after samples', 'a 1\n# TYPE a counter\n'],
    ['a second HELP', '# HELP a x\n# HELP a y\na 1\n'],
    ['a negative counter', '# TYPE a counter\na -1\n'],
    ['a split group', 'a{x="1"} 1\nb 1\na{x="2"} 1\n'],
    ['a CRLF line', 'a 1\r\n'],
    ['non-cumulative buckets', '# TYPE h histogram\nh_bucket{le="1"} 3\nh_bucket{le="2"} 2\nh_bucket{le="+Inf"} 3\nh_sum 1\nh_count 3\n'],
    ['+Inf bucket differing from _count', '# TYPE h histogram\nh_bucket{le="1"} 1\nh_bucket{le="+Inf"} 2\nh_sum 1\nh_count 3\n'],
    ['no +Inf bucket', '# TYPE h histogram\nh_bucket{le="1"} 1\nh_sum 1\nh_count 1\n'],
    ['no _count', '# TYPE h histogram\nh_bucket{le="+Inf"} 1\nh_sum 1\n'],
    ['a bucket without le', '# TYPE h histogram\nh_bucket 1\nh_sum 1\nh_count 1\n'],
  ];
  for (const [what, text] of bad) {
    it(`rejects ${what}`, () => {
      expect(() => parsePromText(text)).toThrow(PromParseError);
    });
  }
});
