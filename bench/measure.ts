/**
 * Runs one scenario against one server: start it fresh, warm it up, run the load client the
 * given number of times, and take server CPU seconds and peak RSS around the runs.
 */
import type { LoadResult } from '../gateway/src/client/index.js';
import { runLoadClient, type LoadSpec } from './load-client.js';
import { CpuTracker, machineBusySeconds, startRssSampler, treeRssMiB } from './proc-stats.js';
import { FILES, type Scenario, type Sizes } from './scenarios.js';
import { startServer, type ServerSpec } from './servers.js';

export interface Measurement {
  server: string;
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
  /** Scenario (f) only. */
  memory?: { idleRssMiB: number; heldRssMiB: number; heldSessions: number };
  error?: string;
}

export function median(values: number[]): number {
  const v = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  const mid = v.length >> 1;
  return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function measure(scenario: Scenario, spec: ServerSpec, port: number, root: string, sizes: Sizes, log: (s: string) => void): Promise<Measurement> {
  const server = await startServer(spec, port, root, FILES.small);
  try {
    const load: LoadSpec = scenario.load(port, sizes);
    const runs: LoadResult[] = [];
    const warm = scenario.warmup?.(port, sizes);
    if (warm) {
      const w = await runLoadClient(warm, scenario.timeoutMs(sizes));
      log(`  ${spec.name} warm-up (not counted): ${w.requests} ok, ${w.failures} failed`);
    }
    await sleep(300); // let the probe's session end before taking the baseline
    const idleRssMiB = treeRssMiB(server.pid);
    let heldRssMiB = NaN;
    const cpu = new CpuTracker(server.pid);
    const cpu0 = cpu.seconds();
    const busy0 = machineBusySeconds();
    const sampler = startRssSampler(server.pid, 200);
    const count = scenario.runs(spec.name, sizes);
    for (let i = 0; i < count; i++) {
      const onAllHolding = load.holdMs
        ? async () => {
            // Every client sits after block 1: sample a few times and keep the largest.
            for (let k = 0; k < 5; k++) {
              heldRssMiB = Math.max(Number.isNaN(heldRssMiB) ? 0 : heldRssMiB, treeRssMiB(server.pid));
              await sleep(200);
            }
          }
        : undefined;
      const r = await runLoadClient(load, scenario.timeoutMs(sizes), onAllHolding);
      log(`  ${spec.name} run ${i + 1}/${count}: ${r.requests} ok, ${r.failures} failed, ${r.throughputMiBps.toFixed(1)} MiB/s, ${r.requestsPerSec.toFixed(0)} req/s, p99 ${r.latency.p99Ms.toFixed(1)} ms`);
      runs.push(r);
      if (!server.running) throw new Error(`${spec.name} exited during the run: ${server.stderr.trim().slice(-500)}`);
    }
    const cpu1 = cpu.stop();
    const busy1 = machineBusySeconds();
    const peakRssMiB = sampler.stop();
    const failuresByCode: Record<string, number> = {};
    for (const r of runs) for (const [k, v] of Object.entries(r.failuresByCode)) failuresByCode[k] = (failuresByCode[k] ?? 0) + v;
    return {
      server: spec.name,
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
      cpuSecondsPerRun: (cpu1 - cpu0) / Math.max(1, runs.length),
      clientCpuSecondsPerRun: runs.reduce((n, r) => n + (r.clientCpuSeconds ?? NaN), 0) / Math.max(1, runs.length),
      machineBusySecondsPerRun: (busy1 - busy0) / Math.max(1, runs.length),
      peakRssMiB,
      memory: load.holdMs ? { idleRssMiB, heldRssMiB, heldSessions: load.concurrency } : undefined,
    };
  } finally {
    await server.stop(3000);
  }
}
