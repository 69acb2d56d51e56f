/**
 * Merges one invocation's results into the stored ones (bench/results/latest.json), so that
 * `npm run bench -- --only e,g` refreshes (e) and (g) without discarding (a)-(d) and (f).
 *
 * The unit is a server's row in a scenario: a row measured now replaces the stored row of the
 * same server in the same scenario; rows of servers not measured now (not selected, or not
 * installed) stay. Every row and the iperf3 ceiling keep the id of the run (invocation) that
 * measured them, and every run keeps its date, command, sizes and load average, so the report
 * can say where each figure came from. Runs no figure refers to any more are dropped.
 */
import type { IperfResult } from './iperf.js';
import type { Measurement } from './measure.js';
import { SCENARIO_IDS, type ScenarioId, type Sizes } from './scenarios.js';

/** One invocation of the harness. */
export interface BenchRun {
  id: number;
  date: string;
  /** The exact command, e.g. `npm run bench -- --only e,g`. */
  harness: string;
  quick: boolean;
  sizes: Sizes;
  /** 1-, 5- and 15-minute load averages at the start and at the end of the run. */
  loadAverage: string;
  tftpfnVersion: string;
  /** `git describe --always --dirty` of the checkout measured: what code the figures are for. */
  commit?: string;
  /** The same for the --baseline checkout (the tftpfn-base rows of this run), when one was given. */
  baselineCommit?: string;
}

export interface StoredReport {
  /** When the report was last written. */
  date: string;
  machine: Record<string, string>;
  versions: Record<string, string>;
  commands: { servers: Record<string, string>; loads: Partial<Record<ScenarioId, string>>; iperf: string[] };
  runs: BenchRun[];
  iperf: IperfResult[];
  /** The run that measured `iperf`; undefined when it was never measured. */
  iperfRun: number | undefined;
  results: Partial<Record<ScenarioId, Measurement[]>>;
  /** What the latest run could not measure. */
  skipped: string[];
  scenarios: { id: ScenarioId; title: string }[];
}

/** A latest.json written before runs were recorded: one run, everything measured by it. */
interface LegacyReport {
  date: string;
  quick: boolean;
  sizes: Sizes;
  machine: Record<string, string>;
  versions: Record<string, string>;
  commands: { servers: Record<string, string>; loads: Partial<Record<ScenarioId, string>>; iperf: string[]; harness: string };
  iperf: IperfResult[];
  results: Partial<Record<ScenarioId, Measurement[]>>;
  skipped: string[];
  scenarios: { id: ScenarioId; title: string }[];
}

const LOAD_KEY = 'load average at start / end';

/** Reads a stored report in either shape; undefined when there is none or it is unreadable. */
export function normalizeStored(raw: unknown): StoredReport | undefined {
  if (!raw || typeof raw !== 'object' || !('results' in raw)) return undefined;
  if ('runs' in raw && Array.isArray((raw as StoredReport).runs)) return raw as StoredReport;
  const old = raw as LegacyReport;
  const { [LOAD_KEY]: loadAverage, ...machine } = old.machine;
  const results: StoredReport['results'] = {};
  for (const [id, rows] of Object.entries(old.results) as [ScenarioId, Measurement[]][]) results[id] = rows.map((m) => ({ ...m, run: 1 }));
  const { harness, ...commands } = old.commands;
  return {
    date: old.date,
    machine,
    versions: old.versions,
    commands,
    runs: [{ id: 1, date: old.date, harness, quick: old.quick, sizes: old.sizes, loadAverage: loadAverage ?? 'unknown', tftpfnVersion: old.versions.tftpfn ?? 'unknown' }],
    iperf: old.iperf,
    iperfRun: old.iperf.length > 0 ? 1 : undefined,
    results,
    skipped: old.skipped,
    scenarios: old.scenarios.map((s) => ({ id: s.id, title: s.title })),
  };
}

/**
 * @param current this run's report, its rows and iperf (when measured) tagged with `run.id`
 * @param titles every scenario's current title, in report order
 * @param servers every scenario's current servers: stored rows of other servers are dropped
 */
export function mergeReports(previous: StoredReport | undefined, current: StoredReport, titles: Record<ScenarioId, string>, servers?: Partial<Record<ScenarioId, readonly string[]>>): StoredReport {
  if (!previous) return current;
  const results: StoredReport['results'] = {};
  for (const id of SCENARIO_IDS) {
    const now = current.results[id] ?? [];
    // A stored row of a server the scenario no longer runs (in.tftpd in (b) since issue 13: it
    // has no windowsize) is dropped rather than shown beside this run's rows.
    const kept = (previous.results[id] ?? []).filter((old) => !now.some((m) => m.server === old.server) && (!servers?.[id] || servers[id]!.includes(old.server)));
    if (now.length + kept.length > 0) results[id] = [...now, ...kept];
  }
  const iperfNow = current.iperfRun !== undefined;
  const merged: StoredReport = {
    date: current.date,
    machine: current.machine,
    versions: current.versions,
    commands: {
      servers: { ...previous.commands.servers, ...current.commands.servers },
      loads: { ...previous.commands.loads, ...current.commands.loads },
      iperf: iperfNow ? current.commands.iperf : previous.commands.iperf,
    },
    runs: [],
    iperf: iperfNow ? current.iperf : previous.iperf,
    iperfRun: iperfNow ? current.iperfRun : previous.iperfRun,
    results,
    skipped: current.skipped,
    scenarios: SCENARIO_IDS.filter((id) => results[id]).map((id) => ({ id, title: titles[id] })),
  };
  const used = new Set<number>();
  for (const rows of Object.values(results)) for (const m of rows ?? []) if (m.run !== undefined) used.add(m.run);
  if (merged.iperfRun !== undefined) used.add(merged.iperfRun);
  merged.runs = [...previous.runs, ...current.runs].filter((r) => used.has(r.id));
  return merged;
}

/** The id for a new run: one more than any stored. */
export function nextRunId(previous: StoredReport | undefined): number {
  return Math.max(0, ...(previous?.runs.map((r) => r.id) ?? [])) + 1;
}
