/**
 * Prometheus metrics for one gateway, on a registry of its own.
 *
 * Two styles of update, chosen by where the truth lives:
 * - push: a finished session (SessionRecord), a reload (ReloadEvent) and a function
 *   invocation are events, so their counters and histograms move when they happen;
 * - pull: everything the gateway already counts (ServerStats) is read once per scrape, in
 *   the metrics' `collect()` callbacks, so the gateway keeps one set of counters and the
 *   data path never touches prom-client.
 *
 * Pulled totals (malformed packets, cache hits, upstream requests...) are monotonic, so they
 * are exported as Counters, not Gauges: `rate()` and counter-reset detection depend on the
 * TYPE. prom-client has no `Counter.set`, so collect() resets the counter and increments it
 * by the absolute value read from the snapshot; the exposed value is exactly the gateway's.
 *
 * The registry is never prom-client's global one: two gateways in one process (tests,
 * embedding) would otherwise fight over metric names. Every series carries a constant
 * `gateway` label (the gateway id), as the session records do.
 */
import cluster from 'node:cluster';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { ServerStats } from './server-stats.js';
import type { UploadCounters } from '../objects/upload-registry.js';
import type { FailureKind } from '../runtime/function-failure.js';
import type { ReloadEvent } from '../runtime/function-runtime.js';
import type { SessionRecord } from './session-record.js';
import { REASON_OF_LIMIT, type RefusalLimit } from '../admission/admission.js';
import { SEND_PATH_STATS } from '../transport/batch-send/send-path-stats.js';
import { listenSharing, type ListenSharing } from '../transport/bind.js';

export const METRIC_PREFIX = 'tftpfn_';

/**
 * TFTP sessions run from a refused request (sub-millisecond) to a large image over lossy
 * lock-step 512-byte blocks (minutes); the gateway gives up on a session well before 5 min.
 */
export const SESSION_DURATION_BUCKETS_SECONDS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];

/** A handler call: from a cached in-process answer (~0.1 ms) to the per-function time limit. */
export const INVOCATION_BUCKETS_SECONDS = [0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

export interface GatewayMetricsOptions {
  /** The gateway id (config gatewayId): the constant `gateway` label on every series. */
  gateway: string;
  /** The gateway's counters right now; read once per scrape. Without it, pulled metrics stay 0. */
  stats?: () => ServerStats;
  /** prom-client's process and Node.js metrics (CPU, memory, handles, GC, event-loop lag). Default true. */
  defaultMetrics?: boolean;
  /** How this process shares the listening port (transport/bind.ts listenSharing); default {@link processListenSharing}. */
  listenSharing?: ListenSharing;
}

/**
 * How this process shares its listening port, as transport/listener.ts decides it: only
 * `serve --processes N` with N > 1 forks cluster workers (cli/serve.ts), so a worker shares by
 * listenSharing(N) ('reusePort' where dgram has SO_REUSEPORT, else 'clusterShared'), and any
 * other process is alone on its port ('single').
 */
export function processListenSharing(): ListenSharing {
  return listenSharing(cluster.isWorker ? 2 : 1);
}

/** 'ok', or how the call failed: the worker pool passes a FailureKind ('threw', 'timeout', 'worker-crashed'...). */
export type InvocationOutcome = 'ok' | FailureKind | 'error' | (string & {});

/** Empty label values are how Prometheus spells "absent" (a folder has no function). */
const label = (v: string | undefined): string => v ?? '';

export class GatewayMetrics {
  readonly registry: Registry;
  readonly gateway: string;
  private readonly statsFn: (() => ServerStats) | undefined;
  /** One snapshot per scrape, so every pulled metric of a scrape agrees with the others. */
  private snapshot: ServerStats | undefined;
  private readonly eventLoopDelay = monitorEventLoopDelay({ resolution: 10 });

  private readonly sessions: Counter<'outcome' | 'kind' | 'function' | 'source'>;
  private readonly bytesSent: Counter;
  private readonly bytesReceived: Counter;
  private readonly retransmits: Counter;
  private readonly sessionDuration: Histogram<'outcome' | 'kind'>;
  private readonly functionSessions: Counter<'function' | 'version' | 'outcome'>;
  private readonly reloads: Counter<'function' | 'result'>;
  private readonly invocations: Histogram<'function' | 'outcome'>;

  constructor(opts: GatewayMetricsOptions) {
    this.gateway = opts.gateway;
    this.statsFn = opts.stats;
    this.registry = new Registry();
    this.registry.setDefaultLabels({ gateway: opts.gateway });
    const registers = [this.registry];
    const name = (n: string) => METRIC_PREFIX + n;

    // --- push: sessions, reloads, invocations ---
    this.sessions = new Counter({
      name: name('sessions_total'),
      help: 'Finished TFTP sessions (including requests refused before a session started), by outcome, kind (read/write), function and source.',
      labelNames: ['outcome', 'kind', 'function', 'source'],
      registers,
    });
    this.bytesSent = new Counter({ name: name('bytes_sent_total'), help: 'Payload bytes sent in DATA packets by finished read sessions (retransmits excluded).', registers });
    this.bytesReceived = new Counter({ name: name('bytes_received_total'), help: 'Payload bytes received in DATA packets by finished write sessions (duplicates excluded).', registers });
    this.retransmits = new Counter({ name: name('retransmits_total'), help: 'Packets sent again after a timeout, by finished sessions.', registers });
    this.sessionDuration = new Histogram({
      name: name('session_duration_seconds'),
      help: 'Duration of finished sessions, from the request to the last packet, by outcome and kind (read/write).',
      labelNames: ['outcome', 'kind'],
      buckets: SESSION_DURATION_BUCKETS_SECONDS,
      registers,
    });
    this.functionSessions = new Counter({
      name: name('function_sessions_total'),
      help: 'Finished sessions served by a function, by function, the version it started on, and outcome.',
      labelNames: ['function', 'version', 'outcome'],
      registers,
    });
    this.reloads = new Counter({
      name: name('function_reloads_total'),
      help: 'Function versions loaded (result="ok") or rejected (result="error").',
      labelNames: ['function', 'result'],
      registers,
    });
    this.invocations = new Histogram({
      name: name('function_invocation_seconds'),
      help: 'Time of one function handler call, by function and outcome.',
      labelNames: ['function', 'outcome'],
      buckets: INVOCATION_BUCKETS_SECONDS,
      registers,
    });

    // --- pull: read from the ServerStats snapshot at scrape time ---
    const stats = () => this.current();
    const counterFrom = (metric: string, help: string, read: (s: ServerStats) => number | undefined) =>
      new Counter({
        name: name(metric),
        help,
        registers,
        collect() {
          const s = stats();
          if (!s) return;
          this.reset();
          this.inc(read(s) ?? 0);
        },
      });
    /**
     * A pulled metric with labels: `samples` reads its label sets and values from the snapshot,
     * or gives undefined when the part it reads is absent (the metric then keeps what it had).
     * Each scrape replaces the values (reset first), so a label set gone from the snapshot (a
     * function removed from the config) does not linger with its last value.
     */
    type Sample = readonly [Record<string, string>, number];
    type Samples = (s: ServerStats) => Iterable<Sample> | undefined;
    const counterSamples = (metric: string, help: string, labelNames: string[], samples: Samples) =>
      new Counter({
        name: name(metric),
        help,
        labelNames,
        registers,
        collect() {
          const s = stats();
          const list = s && samples(s);
          if (!list) return;
          this.reset();
          for (const [labels, value] of list) this.inc(labels, value);
        },
      });
    const gaugeSamples = (metric: string, help: string, labelNames: string[], samples: Samples) =>
      new Gauge({
        name: name(metric),
        help,
        labelNames,
        registers,
        collect() {
          const s = stats();
          const list = s && samples(s);
          if (!list) return;
          this.reset();
          for (const [labels, value] of list) this.set(labels, value);
        },
      });
    new Gauge({
      name: name('sessions_active'),
      help: 'Sessions transferring now (accepted by their handler, not yet closed).',
      registers,
      collect() {
        const s = stats();
        if (s) this.set(s.counters.sessionsActive);
      },
    });
    counterFrom('sessions_started_total', 'Sessions started: the handler accepted the request and options were negotiated (refusals such as not-found are not counted here).', (s) => s.counters.sessionsStarted);
    counterFrom('malformed_packets_total', 'Datagrams that did not decode (dropped or answered with ERROR 4).', (s) => s.counters.malformedPackets);
    counterFrom('internal_errors_total', "Bugs of the gateway caught before they could stop it: a datagram or a session setup that threw (each logged as event 'internalError').", (s) => s.counters.internalErrors);
    counterFrom('duplicate_requests_total', 'Requests repeated by a client while its session was already starting or running.', (s) => s.counters.duplicateRequests);
    counterFrom('stranger_packets_total', "Datagrams from a stranger to a session's port, answered with ERROR 5.", (s) => s.counters.strangerPackets);
    counterFrom('stranger_replies_suppressed_total', 'ERROR 5 replies to strangers not sent because the stranger-reply rate (strangerRepliesPerSecond) was spent.', (s) => s.counters.strangerRepliesSuppressed);
    counterFrom('denied_clients_total', 'Requests dropped silently by the allow/deny lists.', (s) => s.counters.deniedClients);
    counterFrom('refused_busy_total', 'Requests refused busy (ERROR 0): maxSessions, maxSessionsPerClient, maxSessionsPerPrefix or the buffer budget (maxBufferBytes).', (s) => s.counters.refusedBusy);
    counterFrom('refused_rate_limited_total', 'Requests dropped silently by a rate limit (per client, per prefix or global).', (s) => s.counters.refusedRateLimited);
    counterSamples(
      'admission_refusals_total',
      'Requests refused at admission, by reason (busy, rate-limited, client-denied) and the rule that refused them (sessions, client, prefix, buffers, client-rate, prefix-rate, global-rate, deny-list). Exact, unlike the sampled refusal records.',
      ['reason', 'limit'],
      (s) => Object.entries(s.counters.refusalsByLimit ?? {}).map(([limit, n]) => [{ reason: REASON_OF_LIMIT[limit as RefusalLimit] ?? '', limit }, n]),
    );
    counterSamples(
      'refusal_logs_suppressed_total',
      'Admission refusals counted but not logged or recorded (past refusalLogSamples per refusalLogIntervalMs), by reason.',
      ['reason'],
      (s) => Object.entries(s.counters.refusalLogsSuppressed ?? {}).map(([reason, n]) => [{ reason }, n]),
    );
    new Gauge({
      name: name('buffer_bytes_reserved'),
      help: 'Bytes of window and read-ahead buffers reserved by sessions now (bounded by maxBufferBytes).',
      registers,
      collect() {
        const s = stats();
        if (s) this.set(s.counters.bufferBytesReserved ?? 0);
      },
    });
    new Gauge({
      name: name('buffer_bytes_reserved_peak'),
      help: 'The most bytes of session buffers ever reserved at once since the gateway started.',
      registers,
      collect() {
        const s = stats();
        if (s) this.set(s.counters.bufferBytesReservedPeak ?? 0);
      },
    });
    // The send path is process-wide (the kernel's UDP_SEGMENT, the koffi binary, the NIC), read
    // at scrape time from transport/batch-send/send-path-stats.ts.
    new Gauge({
      name: name('send_path_info'),
      help: "How DATA windows leave the sockets now: path=\"gso\" (runs of equal blocks as one UDP GSO sendmsg) or \"plain\" (one datagram per send; config sendPath, or GSO unusable here); 1 for the path in use.",
      labelNames: ['path'],
      registers,
      collect() {
        this.reset();
        this.set({ path: SEND_PATH_STATS.path }, 1);
      },
    });
    // Fixed for the process's life: `serve --processes` (transport/bind.ts listenSharing).
    const sharing = opts.listenSharing ?? processListenSharing();
    new Gauge({
      name: name('listen_info'),
      help: 'How this process shares the TFTP listening port with its siblings (serve --processes): sharing="reusePort" (its own socket, SO_REUSEPORT: the kernel sends each client to one process), "clusterShared" (the cluster primary\'s socket, read by every process: Node 20) or "single" (one process); 1 for the mode in use.',
      labelNames: ['sharing'],
      registers,
      collect() {
        this.reset();
        this.set({ sharing }, 1);
      },
    });
    const sendPathCounter = (metric: string, help: string, read: () => number) =>
      new Counter({
        name: name(metric),
        help,
        registers,
        collect() {
          this.reset();
          this.inc(read());
        },
      });
    sendPathCounter('gso_sends_total', 'UDP GSO sendmsg calls that succeeded (each carries a run of equal-size DATA blocks).', () => SEND_PATH_STATS.gsoSends);
    sendPathCounter('gso_segments_total', 'Datagrams carried by successful UDP GSO sends.', () => SEND_PATH_STATS.gsoSegments);
    sendPathCounter('plain_datagrams_total', 'Datagrams of session windows sent one per send through dgram (single and short last blocks, the plain path, fallbacks).', () => SEND_PATH_STATS.plainDatagrams);
    new Counter({
      name: name('gso_fallbacks_total'),
      help: 'UDP GSO sends that failed and went out through dgram instead, by errno (EAGAIN: socket full, that window only; EIO: no offload, GSO off for the process; others: off for that socket).',
      labelNames: ['code'],
      registers,
      collect() {
        this.reset();
        for (const [code, n] of Object.entries(SEND_PATH_STATS.fallbacksByCode)) this.inc({ code }, n);
      },
    });

    const perFunction = (metric: string, help: string, read: (f: ServerStats['functions'][number]) => number) =>
      gaugeSamples(metric, help, ['function'], (s) => s.functions.map((f) => [{ function: f.name }, read(f)]));
    perFunction('function_workers', 'Worker threads of the current version of a function (0 for in-process functions).', (f) => f.workers);
    perFunction('function_inflight', 'Sessions in flight on a function, all versions.', (f) => f.inflight);
    perFunction('function_versions_draining', 'Older versions of a function still finishing transfers after a reload.', (f) => f.draining);
    counterSamples(
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
    counterSamples(
      'stats_records_total',
      'Session records handed to the Redis stats sink, by what became of them: flushed (acknowledged by Redis) or dropped (the outage buffer was full).',
      ['result'],
      ({ statsSink: k }) => k && [[{ result: 'flushed' }, k.flushed], [{ result: 'dropped' }, k.dropped]],
    );
    new Gauge({
      name: name('stats_records_buffered'),
      help: 'Session records waiting in memory for Redis (grows during an outage, up to statsBufferMax).',
      registers,
      collect() {
        const k = stats()?.statsSink;
        if (k) this.set(k.buffered);
      },
    });
    gaugeSamples(
      'function_info',
      'Always 1: the version each function serves new sessions from, and where it came from (entry, deploy, in-process).',
      ['function', 'version', 'source'],
      (s) => s.functions.map((f) => [{ function: f.name, version: label(f.version), source: f.source }, 1]),
    );

    counterFrom('object_cache_hits_total', 'Object chunks served from the shared cache.', (s) => s.objects?.cacheHits);
    counterFrom('object_cache_misses_total', 'Object chunks missed in the shared cache.', (s) => s.objects?.cacheMisses);
    counterFrom('object_coalesced_total', 'Object chunk reads answered by a fetch another session had already started.', (s) => s.objects?.coalesced);
    counterSamples(
      'object_bytes_total',
      'Object bytes read, from the shared cache (from="cache") or the bucket (from="bucket").',
      ['from'],
      ({ objects: o }) => o && [[{ from: 'cache' }, o.bytesFromCache], [{ from: 'bucket' }, o.bytesFromBucket]],
    );
    counterSamples(
      'upstream_requests_total',
      'Requests to the object store (S3 or folder): HEAD and GET.',
      ['op'],
      ({ objects: o }) => o && [[{ op: 'head' }, o.upstreamHeads], [{ op: 'get' }, o.upstreamGets]],
    );
    counterFrom('upstream_errors_total', 'Failed requests to the object store (after retries).', (s) => s.objects?.upstreamErrors);
    // Uploads through functions (issue 15, docs/UPLOADS.md): the upload registries' counters
    // (objects/upload-registry.ts), process-wide, by store kind (s3, folder, function: accepted(), discard).
    const byStore = (s: ServerStats, read: (u: UploadCounters, store: string) => Sample[]) =>
      s.uploadsByStore && Object.entries(s.uploadsByStore).flatMap(([store, u]) => read(u, store));
    const uploadCounter = (metric: string, help: string, read: (u: UploadCounters) => number) =>
      counterSamples(metric, help, ['store'], (s) => byStore(s, (u, store) => [[{ store }, read(u)]]));
    uploadCounter('uploads_started_total', 'Uploads into a bucket that started (a slot was taken and the store opened), by store.', (u) => u.started);
    counterSamples(
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
    gaugeSamples('uploads_active', 'Uploads into a bucket in progress, by store.', ['store'], (s) => byStore(s, (u, store) => [[{ store }, u.active]]));
    counterFrom('upstream_not_modified_total', 'Revalidations the object store answered with "not modified".', (s) => s.objects?.notModified);
    new Gauge({
      name: name('object_memory_held_bytes'),
      help: 'Object bytes held in gateway memory (the in-memory cache and chunks in flight).',
      registers,
      collect() {
        const o = stats()?.objects;
        if (o) this.set(o.memoryHeldBytes);
      },
    });

    gaugeSamples('kv_available', '1 while the shared key-value store (Redis or memory) is reachable, else 0.', ['kind'], ({ kv }) => kv && [[{ kind: kv.kind }, kv.available ? 1 : 0]]);
    counterSamples(
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

    // prom-client 15 names its lag gauge `nodejs_eventloop_lag_seconds` (with the prefix:
    // tftpfn_nodejs_eventloop_lag_seconds), a one-shot setImmediate probe. This one is the
    // p99 of the delay histogram since start: what the UDP path actually suffered, not one
    // sample at scrape time.
    this.eventLoopDelay.enable();
    const delay = this.eventLoopDelay;
    new Gauge({
      name: name('event_loop_lag_seconds'),
      help: 'Event-loop delay, 99th percentile since the gateway started (perf_hooks.monitorEventLoopDelay).',
      registers,
      collect() {
        // The histogram is in nanoseconds; it is empty (NaN) until the first sample.
        const p99 = delay.percentile(99);
        this.set(Number.isFinite(p99) ? p99 / 1e9 : 0);
      },
    });

    if (opts.defaultMetrics ?? true) collectDefaultMetrics({ register: this.registry, prefix: METRIC_PREFIX });
  }

  /** Counts one finished session (give it to the gateway's onSession). */
  observeSession(r: SessionRecord): void {
    this.sessions.inc({ outcome: r.outcome, kind: r.kind, function: label(r.function), source: label(r.source) });
    if (r.kind === 'read') this.bytesSent.inc(r.bytes);
    else this.bytesReceived.inc(r.bytes);
    if (r.retransmits > 0) this.retransmits.inc(r.retransmits);
    this.sessionDuration.observe({ outcome: r.outcome, kind: r.kind }, r.durationMs / 1000);
    if (r.function !== undefined) this.functionSessions.inc({ function: r.function, version: label(r.version), outcome: r.outcome });
  }

  /** Counts one function version loaded or rejected (give it to the gateway's onReload). */
  observeReload(e: ReloadEvent): void {
    this.reloads.inc({ function: e.function, result: e.ok ? 'ok' : 'error' });
  }

  /** Times one handler call (the worker pool calls it when an invocation settles). */
  observeInvocation(fn: string, seconds: number, outcome: InvocationOutcome): void {
    if (!Number.isFinite(seconds) || seconds < 0) return;
    this.invocations.observe({ function: fn, outcome }, seconds);
  }

  /** The text exposition (format 0.0.4) of every metric of this gateway. */
  async metrics(): Promise<string> {
    this.snapshot = this.readStats();
    try {
      return await this.registry.metrics();
    } finally {
      this.snapshot = undefined;
    }
  }

  /** The Content-Type to serve metrics() with. */
  get contentType(): string {
    return this.registry.contentType;
  }

  /** Stops the event-loop delay monitor and drops every series. */
  close(): void {
    this.eventLoopDelay.disable();
    this.registry.clear();
  }

  /** The snapshot of this scrape, or a fresh one when the registry is read directly. */
  private current(): ServerStats | undefined {
    return this.snapshot ?? this.readStats();
  }

  private readStats(): ServerStats | undefined {
    if (!this.statsFn) return undefined;
    try {
      return this.statsFn();
    } catch {
      // A failing snapshot must not fail the scrape: pulled metrics keep their last values.
      return undefined;
    }
  }
}
