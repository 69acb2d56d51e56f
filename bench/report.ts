/**
 * Turns the stored results (merge.ts: possibly from several runs) into docs/BENCHMARKS.md:
 * machine, runs, commands, one table per scenario, and the targets with whether each was met.
 */
import type { Measurement } from './measure.js';
import type { BenchRun, StoredReport } from './merge.js';
import type { ScenarioId, Sizes } from './scenarios.js';
import { SERVER_LABELS, type ServerName } from './servers.js';
import { baselineTable, peerTable, peerTargets, rrqRetransmits } from './peer-table.js';

export type BenchReport = StoredReport;

const f = (n: number | undefined, d = 1): string => (n === undefined || !Number.isFinite(n) ? '—' : n.toFixed(d));
const mib = (bytes: number) => `${(bytes / (1 << 20)).toFixed(bytes >= 1 << 20 ? 0 : 3)} MiB`;

function find(r: BenchReport, id: ScenarioId, server: string): Measurement | undefined {
  return r.results[id]?.find((m) => m.server === server && !m.error);
}

interface Target {
  scenario: ScenarioId;
  text: string;
  /** The runs the figures come from. */
  runs: string;
  /** undefined: could not be judged (a side is missing). */
  met: boolean | undefined;
  detail: string;
}

function targets(r: BenchReport): Target[] {
  const all: Omit<Target, 'runs'>[] = [];
  // Which runs each target's figures came from: rows and the iperf ceiling it read.
  const sources: (number | undefined)[][] = [];
  const out = {
    push(t: Omit<Target, 'runs'>, ...from: (Measurement | 'iperf' | undefined)[]) {
      all.push(t);
      sources.push(from.map((m) => (m === 'iperf' ? r.iperfRun : m?.run)));
    },
  };
  const t = (id: ScenarioId, s = 'tftpfn') => find(r, id, s);
  const ceiling = r.iperf.find((i) => i.datagramBytes === 1468) ?? r.iperf.find((i) => i.datagramBytes === 1472);
  const judge = (ok: () => boolean, have: unknown[]) => (have.every((x) => x !== undefined) ? ok() : undefined);

  const aT = t('a'), aH = t('a', 'in.tftpd');
  out.push({ scenario: 'a', text: 'lock-step 1468: tftpfn ≥ in.tftpd', met: judge(() => aT!.median.throughputMiBps >= aH!.median.throughputMiBps, [aT, aH]),
    detail: `${f(aT?.median.throughputMiBps)} vs ${f(aH?.median.throughputMiBps)} MiB/s` }, aT, aH);

  const bT = t('b');
  out.push({ scenario: 'b', text: 'windowsize 64: ≥ 5× in.tftpd lock-step (a)', met: judge(() => bT!.median.throughputMiBps >= 5 * aH!.median.throughputMiBps, [bT, aH]),
    detail: `${f(bT?.median.throughputMiBps)} vs 5 × ${f(aH?.median.throughputMiBps)} = ${f(aH ? 5 * aH.median.throughputMiBps : undefined)} MiB/s` }, bT, aH);
  out.push({ scenario: 'b', text: `windowsize 64: ≥ 70% of the iperf3 UDP ceiling (${ceiling?.datagramBytes ?? 1468}-byte datagrams)`, met: judge(() => bT!.median.throughputMiBps >= 0.7 * ceiling!.receivedMiBps, [bT, ceiling]),
    detail: `${f(bT?.median.throughputMiBps)} vs 0.7 × ${f(ceiling?.receivedMiBps)} = ${f(ceiling ? 0.7 * ceiling.receivedMiBps : undefined)} MiB/s` }, bT, ceiling && 'iperf');

  const cT = t('c'), cH = t('c', 'in.tftpd');
  out.push({ scenario: 'c', text: 'blksize 65464: ≥ 0.8× in.tftpd', met: judge(() => cT!.median.throughputMiBps >= 0.8 * cH!.median.throughputMiBps, [cT, cH]),
    detail: `${f(cT?.median.throughputMiBps)} vs 0.8 × ${f(cH?.median.throughputMiBps)} MiB/s` }, cT, cH);

  const dH = t('d', 'in.tftpd');
  for (const name of ['tftpfn', 'tftpfn-p2']) {
    const dT = t('d', name);
    out.push({ scenario: 'd', text: `boot storm (${name}): every transfer succeeds`, met: judge(() => dT!.failures === 0, [dT]),
      detail: dT ? `${dT.requests} ok, ${dT.failures} failed` : '—' }, dT);
    out.push({ scenario: 'd', text: `boot storm (${name}): aggregate ≥ 1.5× in.tftpd`, met: judge(() => dT!.median.throughputMiBps >= 1.5 * dH!.median.throughputMiBps, [dT, dH]),
      detail: `${f(dT?.median.throughputMiBps)} vs 1.5 × ${f(dH?.median.throughputMiBps)} MiB/s` }, dT, dH);
    out.push({ scenario: 'd', text: `boot storm (${name}): p99 completion ≤ 0.7× in.tftpd`, met: judge(() => dT!.median.p99Ms <= 0.7 * dH!.median.p99Ms, [dT, dH]),
      detail: `${f(dT?.median.p99Ms, 0)} vs 0.7 × ${f(dH?.median.p99Ms, 0)} ms` }, dT, dH);
  }

  const eT = t('e'), eH = t('e', 'in.tftpd');
  out.push({ scenario: 'e', text: '1 KiB × 20: ≥ 8× in.tftpd req/s', met: judge(() => eT!.median.requestsPerSec >= 8 * eH!.median.requestsPerSec, [eT, eH]),
    detail: `${f(eT?.median.requestsPerSec, 0)} vs 8 × ${f(eH?.median.requestsPerSec, 0)} req/s` }, eT, eH);
  out.push({ scenario: 'e', text: '1 KiB × 20: p99 < 10 ms', met: judge(() => eT!.median.p99Ms < 10, [eT]), detail: `${f(eT?.median.p99Ms, 2)} ms` }, eT);

  const fT = t('f');
  out.push({ scenario: 'f', text: 'report idle RSS and RSS per 1,000 sessions', met: judge(() => Number.isFinite(fT!.memory?.heldRssMiB), [fT]),
    detail: fT?.memory ? `idle ${f(fT.memory.idleRssMiB)} MiB; ${fT.memory.heldSessions} held: ${f(fT.memory.heldRssMiB)} MiB → ${f(((fT.memory.heldRssMiB - fT.memory.idleRssMiB) * 1000) / fT.memory.heldSessions)} MiB per 1,000 sessions` : '—' }, fT);

  // (g): the default poolSize (2) is the one judged; the other sizes are in the table.
  const gFolder = t('g'), gFn = t('g', 'tftpfn-fn2');
  const ratio = gFolder && gFn ? gFn.median.requestsPerSec / gFolder.median.requestsPerSec : undefined;
  out.push({ scenario: 'g', text: '1 KiB × 20 from a worker function (poolSize 2): ≥ 70% of the folder path\'s req/s', met: judge(() => ratio! >= 0.7, [ratio]),
    detail: `${f(gFn?.median.requestsPerSec, 0)} vs ${f(gFolder?.median.requestsPerSec, 0)} req/s = ${f(ratio, 2)} (per round: ${gFn && gFolder ? pairedRatios(gFn, gFolder).map((x) => f(x, 2)).join(', ') : '—'})` }, gFn, gFolder);
  out.push({ scenario: 'g', text: '1 KiB × 20 from a worker function (poolSize 2): p99 < 15 ms', met: judge(() => gFn!.median.p99Ms < 15, [gFn]), detail: `${f(gFn?.median.p99Ms, 2)} ms` }, gFn);
  // (h): the S3 rows against the folder and in.tftpd, and what the bucket sent.
  const hCold = t('h', 'tftpfn-s3-cold'), hFolder = t('h'), hTftpd = t('h', 'in.tftpd');
  out.push({ scenario: 'h', text: 'boot storm from S3, cold cache: every transfer succeeds', met: judge(() => hCold!.failures === 0, [hCold]),
    detail: hCold ? `${hCold.requests} ok, ${hCold.failures} failed` : '—' }, hCold);
  out.push({ scenario: 'h', text: 'boot storm from S3, cold cache: aggregate ≥ 0.9× the same storm from the folder', met: judge(() => hCold!.median.throughputMiBps >= 0.9 * hFolder!.median.throughputMiBps, [hCold, hFolder]),
    detail: `${f(hCold?.median.throughputMiBps)} vs 0.9 × ${f(hFolder?.median.throughputMiBps)} MiB/s (${f(hCold && hFolder ? hCold.median.throughputMiBps / hFolder.median.throughputMiBps : undefined, 2)}×)` }, hCold, hFolder);
  out.push({ scenario: 'h', text: 'boot storm from S3, cold cache: aggregate ≥ 1× in.tftpd from disk', met: judge(() => hCold!.median.throughputMiBps >= hTftpd!.median.throughputMiBps, [hCold, hTftpd]),
    detail: `${f(hCold?.median.throughputMiBps)} vs ${f(hTftpd?.median.throughputMiBps)} MiB/s (${f(hCold && hTftpd ? hCold.median.throughputMiBps / hTftpd.median.throughputMiBps : undefined, 2)}×)` }, hCold, hTftpd);
  const worst = hCold?.upstream?.length ? Math.max(...hCold.upstream.map((u) => u.bodyBytes / u.objectBytes)) : undefined;
  out.push({ scenario: 'h', text: 'boot storm from S3, cold cache: body bytes the bucket sent ≤ 2× the object, every run', met: judge(() => worst! <= 2, [worst]),
    detail: hCold?.upstream?.length ? `${hCold.upstream.map((u) => `${u.gets} GET + ${u.heads} HEAD, ${f(u.bodyBytes / u.objectBytes, 3)}×`).join('; ')}` : '—' }, hCold);
  // (i): stats to Redis cost under 5% of the small-file req/s, and every record reached the stream.
  const iOff = t('i');
  for (const name of ['tftpfn-stats', 'tftpfn-stats-metrics']) {
    const iOn = t('i', name);
    const q = iOn && iOff ? iOn.median.requestsPerSec / iOff.median.requestsPerSec : undefined;
    const what = name === 'tftpfn-stats' ? 'stats to Redis' : 'stats to Redis + Prometheus metrics';
    out.push({ scenario: 'i', text: `1 KiB × 20 with ${what}: ≥ 0.95× the req/s with stats off (cost < 5%)`, met: judge(() => q! >= 0.95, [q]),
      detail: `${f(iOn?.median.requestsPerSec, 0)} vs ${f(iOff?.median.requestsPerSec, 0)} req/s = ${f(q, 3)} (per round: ${iOn && iOff ? pairedRatios(iOn, iOff).map((x) => f(x, 3)).join(', ') : '—'}); server CPU ${f(iOn ? cpuPerRequest(iOn) : undefined, 0)} vs ${f(iOff ? cpuPerRequest(iOff) : undefined, 0)} µs/request` }, iOn, iOff);
    const c = iOn?.statsCheck;
    out.push({ scenario: 'i', text: `${what}: the stream holds one record per session of the measured runs (XLEN)`, met: judge(() => c!.added === c!.sessions, [c]),
      detail: c ? `+${c.added} entries for ${c.sessions} sessions${c.added === c.sessions ? '' : ` (gap ${c.sessions - c.added})`}${c.sink ? `; sink: ${c.sink.flushed} flushed, ${c.sink.dropped} dropped, ${c.sink.buffered} buffered` : ''}` : '—' }, iOn);
  }
  return all.map((t, i) => ({ ...t, runs: [...new Set(sources[i].filter((x) => x !== undefined))].sort().join(', ') || '—' }));
}

/**
 * Run i of `m` against run i of `folder`: in an interleaved scenario both ran in the same round,
 * minutes apart at most, so each ratio saw roughly the same background load.
 */
function pairedRatios(m: Measurement, folder: Measurement): number[] {
  return m.runs.map((r, i) => (folder.runs[i] ? r.requestsPerSec / folder.runs[i].requestsPerSec : NaN));
}

/** Server CPU per request served, in µs: steadier than req/s when other work competes. */
function cpuPerRequest(m: Measurement): number {
  return (m.cpuSecondsPerRun * m.runs.length * 1e6) / Math.max(1, m.requests);
}

const label = (server: string) => SERVER_LABELS[server as ServerName] ?? server;

function scenarioTable(r: BenchReport, sc: { id: ScenarioId }): string[] {
  const rows = r.results[sc.id];
  if (!rows) return [`_Not run._`];
  const lines: string[] = [];
  if (sc.id === 'e' || sc.id === 'g' || sc.id === 'i') {
    // (g) adds each row's req/s as a share of the folder row's, the figure its target is about;
    // (i) the same against the stats-off row.
    const paired = sc.id === 'g' || sc.id === 'i';
    const base = paired ? find(r, sc.id, 'tftpfn') : undefined;
    const baseName = sc.id === 'i' ? 'stats off' : 'folder';
    const share = (m: Measurement) =>
      base && m.server !== 'tftpfn' ? ` | ${f(m.median.requestsPerSec / base.median.requestsPerSec, 3)} | ${pairedRatios(m, base).map((x) => f(x, 3)).join(', ')}` : paired ? ' | — | —' : '';
    lines.push(
      `| server | req/s${paired ? ` | ÷ ${baseName} req/s | ÷ ${baseName}, per round` : ''} | p50 ms | p90 ms | p99 ms | max ms | requests | failures | RRQ retransmissions | server CPU s/run | server CPU µs/request | client CPU s/run | machine busy s/run | peak RSS MiB |`,
      `|---|---:|${paired ? '---:|---:|' : ''}---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|`,
    );
    for (const m of rows) {
      if (m.error) { lines.push(`| ${label(m.server)} | error: ${m.error.replace(/\|/g, '/').slice(0, 200)} |||||||||`); continue; }
      // CPU per request is steadier than req/s on a shared machine: contention stretches the
      // wall clock far more than the work each request takes.
      const cpuUs = (m.cpuSecondsPerRun * m.runs.length * 1e6) / Math.max(1, m.requests);
      lines.push(`| ${label(m.server)} | ${f(m.median.requestsPerSec, 0)}${share(m)} | ${f(m.median.p50Ms, 2)} | ${f(m.median.p90Ms, 2)} | ${f(m.median.p99Ms, 2)} | ${f(m.median.maxMs, 1)} | ${m.requests} | ${m.failures} | ${f(rrqRetransmits(m), 0)} | ${f(m.cpuSecondsPerRun, 2)} | ${f(cpuUs, 0)} | ${f(m.clientCpuSecondsPerRun, 2)} | ${f(m.machineBusySecondsPerRun, 2)} | ${f(m.peakRssMiB)} |`);
    }
  } else if (sc.id === 'f') {
    lines.push('| server | idle RSS MiB | sessions held | RSS held MiB | MiB per 1,000 sessions | transfers ok | failures |', '|---|---:|---:|---:|---:|---:|---:|');
    for (const m of rows) {
      if (m.error || !m.memory) { lines.push(`| ${label(m.server)} | error: ${(m.error ?? 'no data').replace(/\|/g, '/').slice(0, 200)} ||||||`); continue; }
      const per = ((m.memory.heldRssMiB - m.memory.idleRssMiB) * 1000) / m.memory.heldSessions;
      lines.push(`| ${label(m.server)} | ${f(m.memory.idleRssMiB)} | ${m.memory.heldSessions} | ${f(m.memory.heldRssMiB)} | ${f(per)} | ${m.requests} | ${m.failures} |`);
    }
  } else {
    lines.push('| server | negotiated | MiB/s | completion p50 ms | p99 ms | max ms | ok | failed | retransmits | server CPU s/run | client CPU s/run | machine busy s/run | peak RSS MiB |', '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
    for (const m of rows) {
      if (m.error) { lines.push(`| ${label(m.server)} | error: ${m.error.replace(/\|/g, '/').slice(0, 200)} ||||||||||`); continue; }
      const n = m.negotiated;
      const neg = n ? `blksize ${n.blockSize}, window ${n.windowSize}` : '—';
      const rtx = m.runs.reduce((s, x) => s + x.retransmits, 0);
      lines.push(`| ${label(m.server)} | ${neg} | ${f(m.median.throughputMiBps)} | ${f(m.median.p50Ms, 0)} | ${f(m.median.p99Ms, 0)} | ${f(m.median.maxMs, 0)} | ${m.requests} | ${m.failures} | ${rtx} | ${f(m.cpuSecondsPerRun, 2)} | ${f(m.clientCpuSecondsPerRun, 2)} | ${f(m.machineBusySecondsPerRun, 2)} | ${f(m.peakRssMiB)} |`);
    }
  }
  if (sc.id === 'h') lines.push('', ...upstreamTable(rows));
  if (sc.id === 'i') lines.push('', ...statsTable(rows));
  const notes: string[] = [];
  for (const m of rows) {
    if (!m.error && sc.id === 'b' && m.negotiated && m.negotiated.windowSize === 1) notes.push(`${m.server} does not implement RFC 7440 windowsize: it left the option out of its OACK, so the transfer ran lock-step.`);
    if (m.failures) notes.push(`${label(m.server)} failures: ${Object.entries(m.failuresByCode).map(([k, v]) => `${k} × ${v}`).join(', ')}.`);
  }
  if (notes.length) lines.push('', ...notes.map((n) => `- ${n}`));
  return lines;
}

function sizesText(s: Sizes, quick: boolean): string {
  return `large file ${mib(s.bigBytes)}; boot storm ${s.stormClients} × ${mib(s.bootBytes)}${s.s3ObjectBytes ? ` (S3 storm: ${s.stormClients} × ${mib(s.s3ObjectBytes)})` : ''}; small file 1 KiB for ${s.smallDurationS} s; ${s.memorySessions} held sessions; ${s.runs} run(s) per scenario (fbtftp: 1 in the boot storm)${quick ? '; **quick run: indicative only**' : ''}`;
}

const runRef = (run: BenchRun | undefined) => (run ? `run ${run.id} (${run.date}, \`${run.harness}\`)` : 'an unrecorded run');

/** Which run measured each row of a scenario, e.g. "tftpfn, in.tftpd: run 2 (...); fbtftp: run 1 (...)". */
function provenance(r: BenchReport, rows: Measurement[]): string {
  const byRun = new Map<number | undefined, string[]>();
  for (const m of rows) byRun.set(m.run, [...(byRun.get(m.run) ?? []), label(m.server)]);
  if (byRun.size === 1) return `Measured in ${runRef(r.runs.find((x) => x.id === rows[0].run))}.`;
  return `Measured in several runs: ${[...byRun].map(([id, servers]) => `${servers.join(', ')} in ${runRef(r.runs.find((x) => x.id === id))}`).join('; ')}.`;
}

export function renderMarkdown(r: BenchReport): string {
  const out: string[] = [];
  out.push('# tftpfn benchmarks', '');
  out.push(`Written by \`npm run bench\` (bench/run.ts); last updated ${r.date}. A run re-measures only the scenarios and servers it selects (\`--only\`, \`--servers\`) and merges them into the stored results (bench/results/latest.json), so figures can come from different runs: *Runs* lists each, and every scenario and target says which run measured it.`, '');
  out.push('All traffic is on loopback (127.0.0.1). Each server is started fresh for each scenario; the load comes from `tftpfn bench --json` in a separate process, so client and server never share an event loop — but they do share the machine\'s two cores, and anything else running on the machine (the load average at start and end of each run is recorded below) shows up as noise.', '');
  out.push('Scenarios (a), (j), (b), (c), (e), (g) and (i) start with one unmeasured warm-up run against every server (a long-running server is JIT-compiled and has the file in the page cache). Scenarios (a)–(e), (g) and (i) interleave their servers: all are started and warmed up, then measured in rounds (each once per round, the first rotating), so load from other work on the machine falls on every row alike. Analysis of these figures and what bounds each target: [PERFORMANCE.md](PERFORMANCE.md).', '');
  out.push('Figures are medians over runs. *server CPU* is utime+stime over the server\'s process tree, sampled every 100 ms per pid (in.tftpd and fbtftp fork per transfer and in.tftpd ignores SIGCHLD, so short-lived children are partly missed: for them it is a lower bound; tftpfn\'s worker threads are threads of its process, so they are included). *client CPU* is the load generator\'s own. *machine busy* is all non-idle CPU time from /proc/stat (server + client + kernel + anything else); when client CPU is close to one core-second per wall-second the run measured the client as much as the server. *peak RSS* is VmRSS summed over the tree, sampled every 200 ms (for forking servers this counts shared pages once per process).', '');
  const busy = r.runs.filter((run) => Number(run.loadAverage.split(' ')[0]) > 1);
  for (const run of busy) {
    out.push(`> **Caveat (run ${run.id}):** the machine was not idle (1-minute load average ${Number(run.loadAverage.split(' ')[0]).toFixed(1)} at the start, on 2 cores): other work competed with both servers and the load client, so absolute figures are low and ratios between servers are rough. See *machine busy* against *server CPU* + *client CPU* in each table for how much else ran.`, '');
  }
  out.push('## Machine', '', '| | |', '|---|---|');
  for (const [k, v] of Object.entries(r.machine)) out.push(`| ${k} | ${v} |`);
  for (const [k, v] of Object.entries(r.versions)) out.push(`| ${k} | ${v} |`);
  out.push('', '## Runs', '', '| run | date | command | tftpfn (commit) | sizes | load average at start / end |', '|---|---|---|---|---|---|');
  for (const run of r.runs) out.push(`| ${run.id} | ${run.date} | \`${run.harness}\` | ${run.tftpfnVersion} (${run.commit ?? 'not recorded'})${run.baselineCommit ? `; baseline ${run.baselineCommit}` : ''} | ${sizesText(run.sizes, run.quick)} | ${run.loadAverage} |`);
  out.push('', '## Commands', '', '```sh', '# servers (PORT, ROOT and CONF filled in by the harness; CONF/function-poolN.json is shown below)');
  for (const [k, v] of Object.entries(r.commands.servers)) out.push(`${v}    # ${label(k)}`);
  out.push('# load, per scenario');
  for (const [k, v] of Object.entries(r.commands.loads)) out.push(`${v}    # (${k})`);
  out.push('# UDP ceiling', ...r.commands.iperf, '```', '');
  out.push('## UDP ceiling (iperf3)', '', r.iperfRun !== undefined ? `Measured in ${runRef(r.runs.find((x) => x.id === r.iperfRun))}.` : '_Not measured._', '', '| datagram bytes | sent MiB/s | received MiB/s | lost % |', '|---:|---:|---:|---:|');
  for (const i of r.iperf) out.push(`| ${i.datagramBytes} | ${f(i.sentMiBps)} | ${f(i.receivedMiBps)} | ${f(i.lostPercent, 2)} |`);
  out.push('');
  out.push(
    '## Against the strongest peers (issue 13)',
    '',
    'tftpfn beside in.tftpd (tftpd-hpa), atftpd and the npm `tftp` server, each started with its defaults on a loopback port (the npm server with its caps raised to blksize 65464 and windowsize 64, which it otherwise limits to 1468 and 4; tftpfn with the per-client session cap raised for the storm). "—": the server cannot do it (in.tftpd has no RFC 7440 windowsize) or was not run. *RRQ retransmissions*: requests the load client had to send again because no reply came within its 1 s timeout. *tftpfn ÷ best peer* is above 1 where tftpfn is ahead (for latency and memory: the best peer\'s figure over tftpfn\'s). The *runs* column names the run(s) the row\'s figures come from (see *Runs*).',
    '',
    ...peerTable(r),
    '',
    '| target (issue 13) | result | met |',
    '|---|---|---|',
    ...peerTargets(r).map((t) => `| ${t.text} | ${t.detail} | ${t.met === undefined ? 'not judged' : t.met ? 'yes' : '**no**'} |`),
    '',
    'What bounds each target that is not met: [PERFORMANCE.md](PERFORMANCE.md#against-the-strongest-peers-issue-13).',
    '',
  );
  const vsBaseline = baselineTable(r);
  if (vsBaseline.length > 0) {
    out.push(
      '### Against the baseline build (--baseline)',
      '',
      `The same gateway built from another checkout (the commit is in *Runs*), started with the same flags in the same run; for issue 13's "with GSO unavailable (forced fallback), no row slower than today". Above 1 where this build is ahead (for latency and memory: the baseline's figure over this one's).`,
      '',
      ...vsBaseline,
      '',
    );
  }
  out.push('## Targets (earlier issues)', '', '| scenario | target | result | met | run |', '|---|---|---|---|---|');
  for (const t of targets(r)) out.push(`| ${t.scenario} | ${t.text} | ${t.detail} | ${t.met === undefined ? 'not judged' : t.met ? 'yes' : '**no**'} | ${t.runs} |`);
  out.push('');
  for (const sc of r.scenarios) {
    const rows = r.results[sc.id] ?? [];
    out.push(`## (${sc.id}) ${sc.title}`, '', ...(rows.length ? [provenance(r, rows), ''] : []), ...scenarioTable(r, sc), '');
    if (sc.id === 'g') out.push(...functionScenarioNotes(), '');
  }
  if (r.skipped.length) out.push('## Skipped (latest run)', '', ...r.skipped.map((x) => `- ${x}`), '');
  return out.join('\n');
}

/** (h): what the S3 server counted per run, and the S3 rows' throughput against the others. */
function upstreamTable(rows: Measurement[]): string[] {
  const out = ['What the S3 server (s3rver, counted by its request hook) served during each storm, per run:', '', '| row | run | GET | HEAD | other | non-2xx/304 | body bytes | ÷ object | s3rver CPU s |', '|---|---:|---:|---:|---:|---:|---:|---:|---:|'];
  for (const m of rows) {
    for (const [i, u] of (m.upstream ?? []).entries()) {
      out.push(`| ${label(m.server)} | ${i + 1} | ${u.gets} | ${u.heads} | ${u.other} | ${u.errors} | ${u.bodyBytes} | ${f(u.bodyBytes / u.objectBytes, 3)} | ${f(u.s3CpuSeconds, 2)} |`);
    }
  }
  const folder = rows.find((m) => m.server === 'tftpfn' && !m.error), tftpd = rows.find((m) => m.server === 'in.tftpd' && !m.error);
  out.push('', '| row | ÷ folder MiB/s (median) | ÷ folder, per round | ÷ in.tftpd MiB/s (median) | ÷ in.tftpd, per round | server CPU s/run ÷ folder\'s | other work on the machine, s/run |', '|---|---:|---|---:|---|---:|---:|');
  const per = (m: Measurement, o: Measurement | undefined) => (o ? m.runs.map((r, i) => f(o.runs[i] ? r.throughputMiBps / o.runs[i].throughputMiBps : NaN, 2)).join(', ') : '—');
  for (const m of rows) {
    if (m.error || m.server === 'tftpfn' || m.server === 'in.tftpd') continue;
    out.push(`| ${label(m.server)} | ${f(folder ? m.median.throughputMiBps / folder.median.throughputMiBps : undefined, 2)} | ${per(m, folder)} | ${f(tftpd ? m.median.throughputMiBps / tftpd.median.throughputMiBps : undefined, 2)} | ${per(m, tftpd)} | ${f(folder ? m.cpuSecondsPerRun / folder.cpuSecondsPerRun : undefined, 2)} | ${f(m.machineBusySecondsPerRun - m.cpuSecondsPerRun - m.clientCpuSecondsPerRun, 0)} |`);
  }
  out.push(
    '',
    '*Other work on the machine* is machine busy − server CPU − client CPU (s3rver, redis-server, the kernel outside both processes, and whatever else ran): when it is large, the row\'s wall-clock figures were taken with less of the two cores than the others had; compare server CPU per storm then.',
    '',
    'Each round runs the rows in table order: Redis flushed and a fresh gateway for the cold storm, a second storm on that gateway (warm), then a fresh gateway on the same Redis (fleet), then the folder and in.tftpd, each on a freshly started process. The S3 gateway is `tftpfn serve -c CONF/s3-gateway.json` with the same flags as the folder row; its config (ports filled in by the harness):',
    '',
    '```json',
    '{"objectStore":"s3","s3Endpoint":"http://127.0.0.1:S3PORT","s3ForcePathStyle":true,"s3Region":"us-east-1","s3AccessKeyId":"S3RVER","s3SecretAccessKey":"S3RVER","redisUrl":"redis://127.0.0.1:REDISPORT","maxSessionsPerClient":10000,"routes":[{"match":"boot/**","bucket":"boot","stripPrefix":true}],"defaultRoute":{"folder":"ROOT"}}',
    '```',
    '',
    'Cache settings are the defaults (1 MiB chunks, objects over 8 MiB cached in chunks, 256 MiB in-process table). The S3 rows ask for `boot/vmlinuz-20m.bin` (the object `vmlinuz-20m.bin` in bucket `boot`), the folder and in.tftpd rows for `vmlinuz-20m.bin`: the same bytes. Why upstream bytes stay near one copy and where the time goes: [PERFORMANCE.md](PERFORMANCE.md#boot-storm-from-s3-h).',
  );
  return out;
}

/** (i): the stream check, the CPU the stats cost, and the configs. */
function statsTable(rows: Measurement[]): string[] {
  const off = rows.find((m) => m.server === 'tftpfn' && !m.error);
  const out = [
    'The stream check: entries the stats-on server added to its own stream (XLEN after the last round, 1.5 s after it so the last batch is flushed, minus XLEN after the warm-ups) against the sessions of its measured runs as the load client counted them (ok + failed); the sink\'s counters (`tftpfn_stats_records_total`, `tftpfn_stats_records_buffered`, whole process life: probe and warm-up included) where /metrics is on.',
    '',
    '| row | stream | XLEN before → after | entries added | sessions measured | gap | sink flushed / dropped / buffered | server CPU µs/request − stats off\'s | redis-server CPU µs per record |',
    '|---|---|---:|---:|---:|---:|---|---:|---:|',
  ];
  const recordsAll = rows.reduce((n, m) => n + (m.statsCheck?.added ?? 0), 0);
  for (const m of rows) {
    const c = m.statsCheck;
    if (m.error || !c) continue;
    const dCpu = off ? cpuPerRequest(m) - cpuPerRequest(off) : undefined;
    // redis-server's CPU covers both stats-on rows' records: charged per record.
    const redisUs = c.redisCpuSeconds !== undefined && recordsAll > 0 ? (c.redisCpuSeconds * 1e6) / recordsAll : undefined;
    out.push(`| ${label(m.server)} | \`${c.streamKey}\` | ${c.xlenBefore} → ${c.xlenAfter} | ${c.added} | ${c.sessions} | ${c.sessions - c.added} | ${c.sink ? `${c.sink.flushed} / ${c.sink.dropped} / ${c.sink.buffered}` : 'no /metrics'} | ${f(dCpu, 1)} | ${f(redisUs, 1)} |`);
  }
  out.push(
    '',
    'The three servers are started fresh and warmed up, then measured in rounds (each once per round, the first rotating), as in (g). The stats-on servers run `tftpfn serve -c CONF/tftpfn-stats.json` (and `tftpfn-stats-metrics.json`) with the same flags as the stats-off row; redis-server (`--save \'\' --appendonly no`, a free port) is started by the harness for this scenario only. The configs (ports filled in by the harness):',
    '',
    '```json',
    '{"redisUrl":"redis://127.0.0.1:REDISPORT","statsToRedis":true,"statsStreamKey":"tftpfn:bench:sessions:stats","statsStreamMaxLen":100000000}',
    '{"redisUrl":"redis://127.0.0.1:REDISPORT","statsToRedis":true,"statsStreamKey":"tftpfn:bench:sessions:stats-metrics","statsStreamMaxLen":100000000,"metricsPort":METRICSPORT,"metricsHost":"127.0.0.1"}',
    '```',
    '',
    'Each server has its own stream, and MAXLEN is far above what the runs add, so no entry is trimmed and XLEN counts every record. What the stats cost per session and why: [PERFORMANCE.md](PERFORMANCE.md#session-stats-to-redis-i).',
  );
  return out;
}

/** What (g)'s function servers run, so the table can be reproduced without reading the harness. */
function functionScenarioNotes(): string[] {
  return [
    'The worker rows run `bench/functions/one-kib.ts` (`handle` returns `bytes(body)`, a 1 KiB body built once at load) with every path routed to it; the folder row serves `one-kib.bin`, the same 1 KiB, from its hot-file cache. Each function server\'s config (`CONF/function-poolN.json`, N = 1, 2, 4):',
    '',
    '```json',
    '{"functions":{"gen":{"entry":"/ABS/PATH/bench/functions/one-kib.ts","poolSize":N}},"defaultRoute":{"function":"gen"}}',
    '```',
    '',
    'poolSize 2 is the default and the one the targets judge. Why the worker path costs what it does: [PERFORMANCE.md](PERFORMANCE.md#per-invocation-overhead-of-a-worker-function-g).',
  ];
}
