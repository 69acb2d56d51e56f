/**
 * Runs one scenario against one server: start it fresh, warm it up, run the load client the
 * given number of times, and take server CPU seconds and peak RSS around the runs.
 */
import type { LoadResult } from '../client/index.js';
import { runLoadClient, type LoadSpec } from './load-client.js';
import { CpuTracker, machineBusySeconds, startRssSampler, treeRssMiB } from './proc-stats.js';
import { FILES, type Scenario, type Sizes } from './scenarios.js';
import { startServer, type ServerSpec } from './servers.js';
import type { ManagedProcess } from './child-process.js';

/** Requests and body bytes the S3 server (s3rver, counted by a preload hook) served during one run. */
export interface UpstreamCount {
  gets: number;
  heads: number;
  /** Other methods and the non-2xx/304 replies among the above, for the record. */
  other: number;
  errors: number;
  bodyBytes: number;
  objectBytes: number;
  /** CPU seconds of the S3 server during the run. */
  s3CpuSeconds: number;
}

/**
 * Scenario (i): the stream entries a stats-on server added during its measured runs (XLEN after
 * the last round, once the sink had flushed, minus XLEN after the warm-ups), against the sessions
 * the load client counted (ok + failed), and the sink's own counters when /metrics was there.
 */
export interface StatsCheck {
  streamKey: string;
  xlenBefore: number;
  xlenAfter: number;
  /** xlenAfter - xlenBefore. */
  added: number;
  /** Sessions of the measured runs as the load client counted them: requests + failures. */
  sessions: number;
  /** tftpfn_stats_records_total{result=...} and tftpfn_stats_records_buffered, when scraped. */
  sink?: { flushed: number; dropped: number; buffered: number };
  /** redis-server CPU seconds over all rounds (shared by both stats-on servers). */
  redisCpuSeconds?: number;
}

export interface Measurement {
  server: string;
  /** The harness invocation that measured this row (merge.ts); set by run.ts. */
  run?: number;
  runs: LoadResult[];
  /** Median over runs of each figure separately. */
  median: { throughputMiBps: number; requestsPerSec: number; p50Ms: number; p90Ms: number; p99Ms: number; maxMs: number; elapsedMs: number };
  requests: number;
  failures: number;
  failuresByCode: Record<string, number>;
  negotiated: LoadResult['negotiated'];
  cpuSecondsPerRun: number;
  /** The load client's own CPU per run (user + system). */
  clientCpuSecondsPerRun: number;
  /** Whole-machine busy CPU per run: server + client + kernel + anything else running. */
  machineBusySecondsPerRun: number;
  peakRssMiB: number;
  /**
   * RSS of the server's tree just before the measured runs: after the readiness probe (and the
   * warm-up, in scenarios that have one). In (d), which has no warm-up, it is the idle figure.
   */
  idleRssMiB?: number;
  /** Scenario (f) only. */
  memory?: { idleRssMiB: number; heldRssMiB: number; heldSessions: number };
  /** Scenario (h), rows served from S3: what the S3 server counted, one entry per run. */
  upstream?: UpstreamCount[];
  /** Scenario (i), rows with stats to Redis: whether the stream got a record per session. */
  statsCheck?: StatsCheck;
  error?: string;
}

export function median(values: number[]): number {
  const v = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  const mid = v.length >> 1;
  return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

/**
 * One row from its load-client runs: the median of each figure, totals, and CPU and machine-busy
 * seconds (summed over the runs) per run.
 */
export function summarize(server: string, runs: LoadResult[], cpuSeconds: number, busySeconds: number, peakRssMiB: number): Measurement {
  const failuresByCode: Record<string, number> = {};
  for (const r of runs) for (const [k, v] of Object.entries(r.failuresByCode)) failuresByCode[k] = (failuresByCode[k] ?? 0) + v;
  return {
    server,
    runs,
    median: {
      throughputMiBps: median(runs.map((r) => r.throughputMiBps)),
      requestsPerSec: median(runs.map((r) => r.requestsPerSec)),
      p50Ms: median(runs.map((r) => r.latency.p50Ms)),
      p90Ms: median(runs.map((r) => r.latency.p90Ms)),
      p99Ms: median(runs.map((r) => r.latency.p99Ms)),
      maxMs: median(runs.map((r) => r.latency.maxMs)),
      elapsedMs: median(runs.map((r) => r.elapsedMs)),
    },
    requests: runs.reduce((n, r) => n + r.requests, 0),
    failures: runs.reduce((n, r) => n + r.failures, 0),
    failuresByCode,
    negotiated: runs.find((r) => r.negotiated)?.negotiated,
    cpuSecondsPerRun: cpuSeconds / Math.max(1, runs.length),
    clientCpuSecondsPerRun: runs.reduce((n, r) => n + (r.clientCpuSeconds ?? NaN), 0) / Math.max(1, runs.length),
    machineBusySecondsPerRun: busySeconds / Math.max(1, runs.length),
    peakRssMiB,
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * One server under one scenario's load: started fresh, warmed up, then measured run by run. CPU
 * and machine-busy seconds are summed over the runs themselves, so a server left idle between
 * its runs (interleaved measurement) is not charged for the wait.
 */
class ServerUnderTest {
  private readonly runs: LoadResult[] = [];
  private cpu!: CpuTracker;
  private sampler!: { stop(): number };
  private cpuSeconds = 0;
  private busySeconds = 0;
  private idleRssMiB = NaN;
  private heldRssMiB = NaN;
  private server!: ManagedProcess;

  constructor(
    private readonly scenario: Scenario,
    private readonly spec: ServerSpec,
    private readonly port: number,
    private readonly sizes: Sizes,
    private readonly log: (s: string) => void,
  ) {}

  async start(root: string): Promise<void> {
    this.server = await startServer(this.spec, this.port, root, FILES.small);
  }

  async warmUp(): Promise<void> {
    const warm = this.scenario.warmup?.(this.port, this.sizes);
    if (warm) {
      const w = await runLoadClient(warm, this.scenario.timeoutMs(this.sizes));
      this.log(`  ${this.spec.name} warm-up (not counted): ${w.requests} ok, ${w.failures} failed`);
    }
    await sleep(300); // let the probe's session end before taking the baseline
    this.idleRssMiB = treeRssMiB(this.server.pid);
    this.cpu = new CpuTracker(this.server.pid);
    this.sampler = startRssSampler(this.server.pid, 200);
  }

  get count(): number {
    return this.scenario.runs(this.spec.name, this.sizes);
  }

  async runOnce(): Promise<void> {
    const load: LoadSpec = this.scenario.load(this.port, this.sizes);
    const pid = this.server.pid;
    const onAllHolding = load.holdMs
      ? async () => {
          // Every client sits after block 1: sample a few times and keep the largest.
          for (let k = 0; k < 5; k++) {
            this.heldRssMiB = Math.max(Number.isNaN(this.heldRssMiB) ? 0 : this.heldRssMiB, treeRssMiB(pid));
            await sleep(200);
          }
        }
      : undefined;
    this.cpu.sample();
    const cpu0 = this.cpu.seconds();
    const busy0 = machineBusySeconds();
    const r = await runLoadClient(load, this.scenario.timeoutMs(this.sizes), onAllHolding);
    this.cpu.sample();
    this.cpuSeconds += this.cpu.seconds() - cpu0;
    this.busySeconds += machineBusySeconds() - busy0;
    this.runs.push(r);
    this.log(`  ${this.spec.name} run ${this.runs.length}/${this.count}: ${r.requests} ok, ${r.failures} failed, ${r.throughputMiBps.toFixed(1)} MiB/s, ${r.requestsPerSec.toFixed(0)} req/s, p99 ${r.latency.p99Ms.toFixed(1)} ms`);
    if (!this.server.running) throw new Error(`${this.spec.name} exited during the run: ${this.server.stderr.trim().slice(-500)}`);
  }

  result(): Measurement {
    this.cpu.stop();
    const peakRssMiB = this.sampler.stop();
    const load = this.scenario.load(this.port, this.sizes);
    return {
      ...summarize(this.spec.name, this.runs, this.cpuSeconds, this.busySeconds, peakRssMiB),
      idleRssMiB: this.idleRssMiB,
      memory: load.holdMs ? { idleRssMiB: this.idleRssMiB, heldRssMiB: this.heldRssMiB, heldSessions: load.concurrency } : undefined,
    };
  }

  async stop(): Promise<void> {
    this.cpu?.stop();
    this.sampler?.stop();
    await this.server?.stop(3000);
  }
}

export async function measure(scenario: Scenario, spec: ServerSpec, port: number, root: string, sizes: Sizes, log: (s: string) => void): Promise<Measurement> {
  const sut = new ServerUnderTest(scenario, spec, port, sizes, log);
  try {
    await sut.start(root);
    await sut.warmUp();
    for (let i = 0; i < sut.count; i++) await sut.runOnce();
    return sut.result();
  } finally {
    await sut.stop();
  }
}

/**
 * Measures several servers against each other with their runs interleaved (round i: every
 * server once, starting with server i mod n), all servers started and warmed up first. On a
 * machine shared with other work, load that comes and goes then falls on every server alike
 * instead of on whichever was being measured at the time, so the ratio between rows is far
 * steadier than with one server after another. A server that fails to start or dies gets an
 * error row; the others carry on.
 */
export interface InterleaveHooks {
  /** After every server's warm-up, before round 1. */
  beforeRounds?(): Promise<void>;
  /** After the last round, while the servers still run. */
  afterRounds?(): Promise<void>;
}

export async function measureInterleaved(scenario: Scenario, servers: { spec: ServerSpec; port: number }[], root: string, sizes: Sizes, log: (s: string) => void, hooks: InterleaveHooks = {}): Promise<Measurement[]> {
  const suts = servers.map(({ spec, port }) => ({ name: spec.name, sut: new ServerUnderTest(scenario, spec, port, sizes, log), error: undefined as string | undefined }));
  const fail = (x: (typeof suts)[number], e: unknown) => {
    x.error = (e as Error).message;
    log(`  ${x.name}: ${x.error}`);
  };
  try {
    for (const x of suts) await x.sut.start(root).catch((e) => fail(x, e));
    for (const x of suts) if (!x.error) await x.sut.warmUp().catch((e) => fail(x, e));
    const rounds = Math.max(0, ...suts.map((x) => x.sut.count));
    await hooks.beforeRounds?.();
    for (let i = 0; i < rounds; i++) {
      for (let k = 0; k < suts.length; k++) {
        const x = suts[(i + k) % suts.length];
        if (!x.error && i < x.sut.count) await x.sut.runOnce().catch((e) => fail(x, e));
      }
    }
    await hooks.afterRounds?.();
    return suts.map((x) => (x.error ? ({ server: x.name, error: x.error } as Measurement) : x.sut.result()));
  } finally {
    for (const x of suts) await x.sut.stop();
  }
}
