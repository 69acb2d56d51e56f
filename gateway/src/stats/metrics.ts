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
 *
 * This file holds the registry, the scrape and the pushed metrics; the pulled ones are
 * declared in server-metrics.ts (from the snapshot) and process-metrics.ts (send path,
 * listening mode, event-loop lag), both through pulled-metrics.ts.
 */
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { IntervalHistogram } from 'node:perf_hooks';
import type { ServerStats } from './server-stats.js';
import type { FailureKind } from '../runtime/function-failure.js';
import type { ReloadEvent } from '../runtime/function-runtime.js';
import type { SessionRecord } from './session-record.js';
import type { ListenSharing } from '../transport/bind.js';
import { label, METRIC_PREFIX, PulledMetrics } from './pulled-metrics.js';
import { ServerStatsMetrics } from './server-metrics.js';
import { declareEventLoopLag, declareSendPathMetrics, processListenSharing } from './process-metrics.js';

/** Where they were declared before the pulled metrics had files of their own; importers use them from here. */
export { METRIC_PREFIX, processListenSharing };

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

/** 'ok', or how the call failed: the worker pool passes a FailureKind ('threw', 'timeout', 'worker-crashed'...). */
export type InvocationOutcome = 'ok' | FailureKind | 'error' | (string & {});

export class GatewayMetrics {
  readonly registry: Registry;
  readonly gateway: string;
  private readonly statsFn: (() => ServerStats) | undefined;
  /** One snapshot per scrape, so every pulled metric of a scrape agrees with the others. */
  private snapshot: ServerStats | undefined;
  private readonly eventLoopDelay: IntervalHistogram;

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

    // --- pull: read at scrape time, from the ServerStats snapshot or the process ---
    const pull = new PulledMetrics(this.registry);
    const server = new ServerStatsMetrics(pull, () => this.current());
    server.declareSessionMetrics();
    declareSendPathMetrics(pull, opts.listenSharing ?? processListenSharing());
    server.declareFunctionMetrics();
    server.declareObjectMetrics();
    server.declareKvMetrics();
    this.eventLoopDelay = declareEventLoopLag(pull);

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
