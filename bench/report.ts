/**
 * Turns measurements into docs/BENCHMARKS.md: machine, commands, one table per scenario, and the
 * targets with whether each was met.
 */
import type { IperfResult } from './iperf.js';
import type { Measurement } from './measure.js';
import type { Scenario, ScenarioId, Sizes } from './scenarios.js';

export interface BenchReport {
  date: string;
  quick: boolean;
  sizes: Sizes;
  machine: Record<string, string>;
  versions: Record<string, string>;
  commands: { servers: Record<string, string>; loads: Partial<Record<ScenarioId, string>>; iperf: string[]; harness: string };
  iperf: IperfResult[];
  results: Partial<Record<ScenarioId, Measurement[]>>;
  skipped: string[];
  scenarios: Scenario[];
}

const f = (n: number | undefined, d = 1): string => (n === undefined || !Number.isFinite(n) ? '—' : n.toFixed(d));
const mib = (bytes: number) => `${(bytes / (1 << 20)).toFixed(bytes >= 1 << 20 ? 0 : 3)} MiB`;

function find(r: BenchReport, id: ScenarioId, server: string): Measurement | undefined {
  return r.results[id]?.find((m) => m.server === server && !m.error);
}

interface Target {
  scenario: ScenarioId;
  text: string;
  /** undefined: could not be judged (a side is missing). */
  met: boolean | undefined;
  detail: string;
}

function targets(r: BenchReport): Target[] {
  const out: Target[] = [];
  const t = (id: ScenarioId, s = 'tftpfn') => find(r, id, s);
  const ceiling = r.iperf.find((i) => i.datagramBytes === 1472);
  const judge = (ok: () => boolean, have: unknown[]) => (have.every((x) => x !== undefined) ? ok() : undefined);

  const aT = t('a'), aH = t('a', 'in.tftpd');
  out.push({ scenario: 'a', text: 'lock-step 1468: tftpfn ≥ in.tftpd', met: judge(() => aT!.median.throughputMiBps >= aH!.median.throughputMiBps, [aT, aH]),
    detail: `${f(aT?.median.throughputMiBps)} vs ${f(aH?.median.throughputMiBps)} MiB/s` });

  const bT = t('b');
  out.push({ scenario: 'b', text: 'windowsize 64: ≥ 5× in.tftpd lock-step (a)', met: judge(() => bT!.median.throughputMiBps >= 5 * aH!.median.throughputMiBps, [bT, aH]),
    detail: `${f(bT?.median.throughputMiBps)} vs 5 × ${f(aH?.median.throughputMiBps)} = ${f(aH ? 5 * aH.median.throughputMiBps : undefined)} MiB/s` });
  out.push({ scenario: 'b', text: 'windowsize 64: ≥ 70% of the iperf3 UDP ceiling (1472-byte datagrams)', met: judge(() => bT!.median.throughputMiBps >= 0.7 * ceiling!.receivedMiBps, [bT, ceiling]),
    detail: `${f(bT?.median.throughputMiBps)} vs 0.7 × ${f(ceiling?.receivedMiBps)} = ${f(ceiling ? 0.7 * ceiling.receivedMiBps : undefined)} MiB/s` });

  const cT = t('c'), cH = t('c', 'in.tftpd');
  out.push({ scenario: 'c', text: 'blksize 65464: ≥ 0.8× in.tftpd', met: judge(() => cT!.median.throughputMiBps >= 0.8 * cH!.median.throughputMiBps, [cT, cH]),
    detail: `${f(cT?.median.throughputMiBps)} vs 0.8 × ${f(cH?.median.throughputMiBps)} MiB/s` });

  const dH = t('d', 'in.tftpd');
  for (const name of ['tftpfn', 'tftpfn-p2']) {
    const dT = t('d', name);
    out.push({ scenario: 'd', text: `boot storm (${name}): every transfer succeeds`, met: judge(() => dT!.failures === 0, [dT]),
      detail: dT ? `${dT.requests} ok, ${dT.failures} failed` : '—' });
    out.push({ scenario: 'd', text: `boot storm (${name}): aggregate ≥ 1.5× in.tftpd`, met: judge(() => dT!.median.throughputMiBps >= 1.5 * dH!.median.throughputMiBps, [dT, dH]),
      detail: `${f(dT?.median.throughputMiBps)} vs 1.5 × ${f(dH?.median.throughputMiBps)} MiB/s` });
    out.push({ scenario: 'd', text: `boot storm (${name}): p99 completion ≤ 0.7× in.tftpd`, met: judge(() => dT!.median.p99Ms <= 0.7 * dH!.median.p99Ms, [dT, dH]),
      detail: `${f(dT?.median.p99Ms, 0)} vs 0.7 × ${f(dH?.median.p99Ms, 0)} ms` });
  }

  const eT = t('e'), eH = t('e', 'in.tftpd');
  out.push({ scenario: 'e', text: '1 KiB × 20: ≥ 8× in.tftpd req/s', met: judge(() => eT!.median.requestsPerSec >= 8 * eH!.median.requestsPerSec, [eT, eH]),
    detail: `${f(eT?.median.requestsPerSec, 0)} vs 8 × ${f(eH?.median.requestsPerSec, 0)} req/s` });
  out.push({ scenario: 'e', text: '1 KiB × 20: p99 < 10 ms', met: judge(() => eT!.median.p99Ms < 10, [eT]), detail: `${f(eT?.median.p99Ms, 2)} ms` });

  const fT = t('f');
  out.push({ scenario: 'f', text: 'report idle RSS and RSS per 1,000 sessions', met: judge(() => Number.isFinite(fT!.memory?.heldRssMiB), [fT]),
    detail: fT?.memory ? `idle ${f(fT.memory.idleRssMiB)} MiB; ${fT.memory.heldSessions} held: ${f(fT.memory.heldRssMiB)} MiB → ${f(((fT.memory.heldRssMiB - fT.memory.idleRssMiB) * 1000) / fT.memory.heldSessions)} MiB per 1,000 sessions` : '—' });
  return out;
}

function scenarioTable(r: BenchReport, sc: Scenario): string[] {
  const rows = r.results[sc.id];
  if (!rows) return [`_Not run._`];
  const lines: string[] = [];
  if (sc.id === 'e') {
    lines.push('| server | req/s | p50 ms | p90 ms | p99 ms | max ms | requests | failures | server CPU s/run | client CPU s/run | machine busy s/run | peak RSS MiB |', '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
    for (const m of rows) {
      if (m.error) { lines.push(`| ${m.server} | error: ${m.error.replace(/\|/g, '/').slice(0, 200)} |||||||||`); continue; }
      lines.push(`| ${m.server} | ${f(m.median.requestsPerSec, 0)} | ${f(m.median.p50Ms, 2)} | ${f(m.median.p90Ms, 2)} | ${f(m.median.p99Ms, 2)} | ${f(m.median.maxMs, 1)} | ${m.requests} | ${m.failures} | ${f(m.cpuSecondsPerRun, 2)} | ${f(m.clientCpuSecondsPerRun, 2)} | ${f(m.machineBusySecondsPerRun, 2)} | ${f(m.peakRssMiB)} |`);
    }
  } else if (sc.id === 'f') {
    lines.push('| server | idle RSS MiB | sessions held | RSS held MiB | MiB per 1,000 sessions | transfers ok | failures |', '|---|---:|---:|---:|---:|---:|---:|');
    for (const m of rows) {
      if (m.error || !m.memory) { lines.push(`| ${m.server} | error: ${(m.error ?? 'no data').replace(/\|/g, '/').slice(0, 200)} ||||||`); continue; }
      const per = ((m.memory.heldRssMiB - m.memory.idleRssMiB) * 1000) / m.memory.heldSessions;
      lines.push(`| ${m.server} | ${f(m.memory.idleRssMiB)} | ${m.memory.heldSessions} | ${f(m.memory.heldRssMiB)} | ${f(per)} | ${m.requests} | ${m.failures} |`);
    }
  } else {
    lines.push('| server | negotiated | MiB/s | completion p50 ms | p99 ms | max ms | ok | failed | retransmits | server CPU s/run | client CPU s/run | machine busy s/run | peak RSS MiB |', '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
    for (const m of rows) {
      if (m.error) { lines.push(`| ${m.server} | error: ${m.error.replace(/\|/g, '/').slice(0, 200)} ||||||||||`); continue; }
      const n = m.negotiated;
      const neg = n ? `blksize ${n.blockSize}, window ${n.windowSize}` : '—';
      const rtx = m.runs.reduce((s, x) => s + x.retransmits, 0);
      lines.push(`| ${m.server} | ${neg} | ${f(m.median.throughputMiBps)} | ${f(m.median.p50Ms, 0)} | ${f(m.median.p99Ms, 0)} | ${f(m.median.maxMs, 0)} | ${m.requests} | ${m.failures} | ${rtx} | ${f(m.cpuSecondsPerRun, 2)} | ${f(m.clientCpuSecondsPerRun, 2)} | ${f(m.machineBusySecondsPerRun, 2)} | ${f(m.peakRssMiB)} |`);
    }
  }
  const notes: string[] = [];
  for (const m of rows) {
    if (!m.error && sc.id === 'b' && m.negotiated && m.negotiated.windowSize === 1) notes.push(`${m.server} does not implement RFC 7440 windowsize: it left the option out of its OACK, so the transfer ran lock-step.`);
    if (m.failures) notes.push(`${m.server} failures: ${Object.entries(m.failuresByCode).map(([k, v]) => `${k} × ${v}`).join(', ')}.`);
  }
  if (notes.length) lines.push('', ...notes.map((n) => `- ${n}`));
  return lines;
}

export function renderMarkdown(r: BenchReport): string {
  const s = r.sizes;
  const out: string[] = [];
  out.push('# tftpfn benchmarks', '');
  out.push(`Generated by \`npm run bench${r.quick ? ' -- --quick' : ''}\` (bench/run.ts) on ${r.date}.${r.quick ? ' **Quick run: smaller files, fewer clients, one run each; indicative only.**' : ''}`, '');
  out.push('All traffic is on loopback (127.0.0.1). Each server is started fresh for each scenario; the load comes from `tftpfn bench --json` in a separate process, so client and server never share an event loop — but they do share the machine\'s two cores, and anything else running on the machine (the load average at start and end is recorded below) shows up as noise.', '');
  out.push('Scenarios (a), (b), (c) and (e) start with one unmeasured warm-up run against every server (a long-running server is JIT-compiled and has the file in the page cache). Analysis of these figures and what bounds each target: [PERFORMANCE.md](PERFORMANCE.md).', '');
  out.push('Figures are medians over runs. *server CPU* is utime+stime over the server\'s process tree, sampled every 100 ms per pid (in.tftpd and fbtftp fork per transfer and in.tftpd ignores SIGCHLD, so short-lived children are partly missed: for them it is a lower bound). *client CPU* is the load generator\'s own. *machine busy* is all non-idle CPU time from /proc/stat (server + client + kernel + anything else); when client CPU is close to one core-second per wall-second the run measured the client as much as the server. *peak RSS* is VmRSS summed over the tree, sampled every 200 ms (for forking servers this counts shared pages once per process).', '');
  const loadAtStart = Number((r.machine['load average at start / end'] ?? '').split(' ')[0]);
  if (loadAtStart > 1) {
    out.push(`> **Caveat:** the machine was not idle (1-minute load average ${loadAtStart.toFixed(1)} at the start, on 2 cores): other work competed with both servers and the load client, so absolute figures are low and ratios between servers are rough. See *machine busy* against *server CPU* + *client CPU* in each table for how much else ran.`, '');
  }
  out.push('## Machine', '', '| | |', '|---|---|');
  for (const [k, v] of Object.entries(r.machine)) out.push(`| ${k} | ${v} |`);
  for (const [k, v] of Object.entries(r.versions)) out.push(`| ${k} | ${v} |`);
  out.push('', '## Sizes', '');
  out.push(`Large file ${mib(s.bigBytes)}; boot storm ${s.stormClients} clients × ${mib(s.bootBytes)}; small file 1 KiB for ${s.smallDurationS} s; ${s.memorySessions} held sessions; ${s.runs} run(s) per scenario (fbtftp: 1 in the boot storm).`, '');
  out.push('## Commands', '', '```sh', `# harness\n${r.commands.harness}`, '# servers (PORT and ROOT filled in by the harness)');
  for (const [k, v] of Object.entries(r.commands.servers)) out.push(`${v}    # ${k}`);
  out.push('# load, per scenario');
  for (const [k, v] of Object.entries(r.commands.loads)) out.push(`${v}    # (${k})`);
  out.push('# UDP ceiling', ...r.commands.iperf, '```', '');
  out.push('## UDP ceiling (iperf3)', '', '| datagram bytes | sent MiB/s | received MiB/s | lost % |', '|---:|---:|---:|---:|');
  for (const i of r.iperf) out.push(`| ${i.datagramBytes} | ${f(i.sentMiBps)} | ${f(i.receivedMiBps)} | ${f(i.lostPercent, 2)} |`);
  out.push('');
  out.push('## Targets', '', '| scenario | target | result | met |', '|---|---|---|---|');
  for (const t of targets(r)) out.push(`| ${t.scenario} | ${t.text} | ${t.detail} | ${t.met === undefined ? 'not judged' : t.met ? 'yes' : '**no**'} |`);
  out.push('');
  for (const sc of r.scenarios) {
    out.push(`## (${sc.id}) ${sc.title}`, '', ...scenarioTable(r, sc), '');
  }
  if (r.skipped.length) out.push('## Skipped', '', ...r.skipped.map((x) => `- ${x}`), '');
  return out.join('\n');
}
