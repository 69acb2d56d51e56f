/**
 * The pulled metrics read from the gateway's ServerStats snapshot (server-stats.ts), one
 * snapshot per scrape so that every metric of a scrape agrees with the others: sessions,
 * admission and buffers; functions and the stats sink; objects and uploads; the key-value
 * store. Each group is declared by its own method, called by metrics.ts in exposition order.
 */
import type { UploadCounters } from '../objects/upload-registry.js';
import { REASON_OF_LIMIT, type RefusalLimit } from '../admission/admission.js';
import { label, single, type PulledMetrics, type ReadSamples, type Sample } from './pulled-metrics.js';
import type { ServerStats } from './server-stats.js';

/** Reads a metric's samples from the snapshot; undefined where that part is absent. */
type Samples = (s: ServerStats) => Iterable<Sample> | undefined;

export class ServerStatsMetrics {
  constructor(
    private readonly pull: PulledMetrics,
    /** This scrape's snapshot (undefined without one: the metrics keep their values). */
    private readonly stats: () => ServerStats | undefined,
  ) {}

  /** Sessions, datagrams, admission refusals and the session buffer budget (ServerStats.counters). */
  declareSessionMetrics(): void {
    this.gaugeFrom('sessions_active', 'Sessions transferring now (accepted by their handler, not yet closed).', (s) => s.counters.sessionsActive);
    this.counterFrom('sessions_started_total', 'Sessions started: the handler accepted the request and options were negotiated (refusals such as not-found are not counted here).', (s) => s.counters.sessionsStarted);
    this.counterFrom('malformed_packets_total', 'Datagrams that did not decode (dropped or answered with ERROR 4).', (s) => s.counters.malformedPackets);
    this.counterFrom('internal_errors_total', "Bugs of the gateway caught before they could stop it: a datagram or a session setup that threw (each logged as event 'internalError').", (s) => s.counters.internalErrors);
    this.counterFrom('duplicate_requests_total', 'Requests repeated by a client while its session was already starting or running.', (s) => s.counters.duplicateRequests);
    this.counterFrom('stranger_packets_total', "Datagrams from a stranger to a session's port, answered with ERROR 5.", (s) => s.counters.strangerPackets);
    this.counterFrom('stranger_replies_suppressed_total', 'ERROR 5 replies to strangers not sent because the stranger-reply rate (strangerRepliesPerSecond) was spent.', (s) => s.counters.strangerRepliesSuppressed);
    this.counterFrom('denied_clients_total', 'Requests dropped silently by the allow/deny lists.', (s) => s.counters.deniedClients);
    this.counterFrom('refused_busy_total', 'Requests refused busy (ERROR 0): maxSessions, maxSessionsPerClient, maxSessionsPerPrefix or the buffer budget (maxBufferBytes).', (s) => s.counters.refusedBusy);
    this.counterFrom('refused_rate_limited_total', 'Requests dropped silently by a rate limit (per client, per prefix or global).', (s) => s.counters.refusedRateLimited);
    this.counterSamples(
      'admission_refusals_total',
      'Requests refused at admission, by reason (busy, rate-limited, client-denied) and the rule that refused them (sessions, client, prefix, buffers, client-rate, prefix-rate, global-rate, deny-list). Exact, unlike the sampled refusal records.',
      ['reason', 'limit'],
      (s) => Object.entries(s.counters.refusalsByLimit ?? {}).map(([limit, n]) => [{ reason: REASON_OF_LIMIT[limit as RefusalLimit] ?? '', limit }, n]),
    );
    this.counterSamples(
      'refusal_logs_suppressed_total',
      'Admission refusals counted but not logged or recorded (past refusalLogSamples per refusalLogIntervalMs), by reason.',
      ['reason'],
      (s) => Object.entries(s.counters.refusalLogsSuppressed ?? {}).map(([reason, n]) => [{ reason }, n]),
    );
    this.gaugeFrom('buffer_bytes_reserved', 'Bytes of window and read-ahead buffers reserved by sessions now (bounded by maxBufferBytes).', (s) => s.counters.bufferBytesReserved ?? 0);
    this.gaugeFrom('buffer_bytes_reserved_peak', 'The most bytes of session buffers ever reserved at once since the gateway started.', (s) => s.counters.bufferBytesReservedPeak ?? 0);
  }

  /** Each function's workers, sessions, versions and pool events; the Redis stats sink. */
  declareFunctionMetrics(): void {
    const perFunction = (metric: string, help: string, read: (f: ServerStats['functions'][number]) => number) =>
      this.gaugeSamples(metric, help, ['function'], (s) => s.functions.map((f) => [{ function: f.name }, read(f)]));
    perFunction('function_workers', 'Worker threads of the current version of a function (0 for in-process functions).', (f) => f.workers);
    perFunction('function_inflight', 'Sessions in flight on a function, all versions.', (f) => f.inflight);
    perFunction('function_versions_draining', 'Older versions of a function still finishing transfers after a reload.', (f) => f.draining);
    this.counterSamples(
      'function_pool_events_total',
      'Worker pool events per function, over every version: invocation, failure (user code threw or returned nonsense), timeout, crash (a worker died), retry (an invocation re-run after its worker died), restart (a replacement worker).',
      ['function', 'event'],
      (s) =>
        s.functions.flatMap(({ name: fn, totals: t }): Sample[] =>
          t
            ? [
                [{ function: fn, event: 'invocation' }, t.invocations],
                [{ function: fn, event: 'failure' }, t.failures],
                [{ function: fn, event: 'timeout' }, t.timeouts],
                [{ function: fn, event: 'crash' }, t.crashes],
                [{ function: fn, event: 'retry' }, t.retries],
                [{ function: fn, event: 'restart' }, t.restarts],
              ]
            : [],
        ),
    );
    this.counterSamples(
      'stats_records_total',
      'Session records handed to the Redis stats sink, by what became of them: flushed (acknowledged by Redis) or dropped (the outage buffer was full).',
      ['result'],
      ({ statsSink: k }) => k && [[{ result: 'flushed' }, k.flushed], [{ result: 'dropped' }, k.dropped]],
    );
    this.gaugeFrom('stats_records_buffered', 'Session records waiting in memory for Redis (grows during an outage, up to statsBufferMax).', (s) => s.statsSink?.buffered);
    this.gaugeSamples(
      'function_info',
      'Always 1: the version each function serves new sessions from, and where it came from (entry, deploy, in-process).',
      ['function', 'version', 'source'],
      (s) => s.functions.map((f) => [{ function: f.name, version: label(f.version), source: f.source }, 1]),
    );
  }

  /** Objects from buckets (cache, bytes, upstream requests) and uploads into buckets, by store. */
  declareObjectMetrics(): void {
    this.counterFrom('object_cache_hits_total', 'Object chunks served from the shared cache.', (s) => s.objects?.cacheHits);
    this.counterFrom('object_cache_misses_total', 'Object chunks missed in the shared cache.', (s) => s.objects?.cacheMisses);
    this.counterFrom('object_coalesced_total', 'Object chunk reads answered by a fetch another session had already started.', (s) => s.objects?.coalesced);
    this.counterSamples(
      'object_bytes_total',
      'Object bytes read, from the shared cache (from="cache") or the bucket (from="bucket").',
      ['from'],
      ({ objects: o }) => o && [[{ from: 'cache' }, o.bytesFromCache], [{ from: 'bucket' }, o.bytesFromBucket]],
    );
    this.counterSamples(
      'upstream_requests_total',
      'Requests to the object store (S3 or folder): HEAD and GET.',
      ['op'],
      ({ objects: o }) => o && [[{ op: 'head' }, o.upstreamHeads], [{ op: 'get' }, o.upstreamGets]],
    );
    this.counterFrom('upstream_errors_total', 'Failed requests to the object store (after retries).', (s) => s.objects?.upstreamErrors);
    // Uploads through functions (issue 15, docs/UPLOADS.md): the upload registries' counters
    // (objects/upload-registry.ts), process-wide, by store kind (s3, folder, function: accepted(), discard).
    const byStore = (s: ServerStats, read: (u: UploadCounters, store: string) => Sample[]) =>
      s.uploadsByStore && Object.entries(s.uploadsByStore).flatMap(([store, u]) => read(u, store));
    const uploadCounter = (metric: string, help: string, read: (u: UploadCounters) => number) =>
      this.counterSamples(metric, help, ['store'], (s) => byStore(s, (u, store) => [[{ store }, read(u)]]));
    uploadCounter('uploads_started_total', 'Uploads into a bucket that started (a slot was taken and the store opened), by store.', (u) => u.started);
    this.counterSamples(
      'uploads_total',
      'Uploads into a bucket that ended, by store and outcome: committed (stored) or aborted (nothing left).',
      ['store', 'outcome'],
      (s) =>
        byStore(s, (u, store) => [
          [{ store, outcome: 'committed' }, u.committed],
          [{ store, outcome: 'aborted' }, u.aborted],
        ]),
    );
    uploadCounter('upload_bytes_total', 'Bytes of uploads committed into a bucket, by store.', (u) => u.bytesCommitted);
    uploadCounter('upload_refused_per_client_total', 'Uploads refused (ERROR 0 "too many sessions from this client", outcome busy) because the client already had maxUploadsPerClient open through that function, by store.', (u) => u.refusedPerClient);
    uploadCounter('upload_abort_failures_total', 'AbortMultipartUpload calls that failed (retried by the sweep), by store.', (u) => u.abortFailures);
    uploadCounter('upload_swept_total', 'Unfinished uploads the sweep removed (multipart uploads aborted, temporary files deleted), by store.', (u) => u.swept);
    this.gaugeSamples('uploads_active', 'Uploads into a bucket in progress, by store.', ['store'], (s) => byStore(s, (u, store) => [[{ store }, u.active]]));
    this.counterFrom('upstream_not_modified_total', 'Revalidations the object store answered with "not modified".', (s) => s.objects?.notModified);
    this.gaugeFrom('object_memory_held_bytes', 'Object bytes held in gateway memory (the in-memory cache and chunks in flight).', (s) => s.objects?.memoryHeldBytes);
  }

  /** The shared key-value store (Redis or memory): availability and calls by result. */
  declareKvMetrics(): void {
    this.gaugeSamples('kv_available', '1 while the shared key-value store (Redis or memory) is reachable, else 0.', ['kind'], ({ kv }) => kv && [[{ kind: kv.kind }, kv.available ? 1 : 0]]);
    this.counterSamples(
      'kv_calls_total',
      'Key-value store calls, by result: hit, miss, bypassed (store down), error, integrity-failure (tag did not verify; also a miss).',
      ['result'],
      ({ kv }) =>
        kv && [
          [{ result: 'hit' }, kv.hits],
          [{ result: 'miss' }, kv.misses],
          [{ result: 'bypassed' }, kv.bypassed],
          [{ result: 'error' }, kv.errors],
          // A cached value whose integrity tag did not verify (forged or moved in Redis): served as a miss.
          [{ result: 'integrity-failure' }, kv.integrityFailures ?? 0],
        ],
    );
  }

  private fromStats(samples: Samples): ReadSamples {
    return () => {
      const s = this.stats();
      return s && samples(s);
    };
  }

  /** A total from the snapshot; a part that is absent counts 0. */
  private counterFrom(metric: string, help: string, read: (s: ServerStats) => number | undefined): void {
    this.pull.counter(metric, help, [], this.fromStats((s) => single(read(s) ?? 0)));
  }

  /** A level from the snapshot; a part that is absent keeps the last value. */
  private gaugeFrom(metric: string, help: string, read: (s: ServerStats) => number | undefined): void {
    this.pull.gauge(metric, help, [], this.fromStats((s) => {
      const value = read(s);
      return value === undefined ? undefined : single(value);
    }));
  }

  private counterSamples(metric: string, help: string, labelNames: string[], samples: Samples): void {
    this.pull.counter(metric, help, labelNames, this.fromStats(samples));
  }

  private gaugeSamples(metric: string, help: string, labelNames: string[], samples: Samples): void {
    this.pull.gauge(metric, help, labelNames, this.fromStats(samples));
  }
}
