import { describe, expect, it } from 'vitest';
import type { Measurement } from '../../../bench/measure.js';
import type { StoredReport } from '../../../bench/merge.js';
import { baselineTable, peerTable, peerTargets } from '../../../bench/peer-table.js';

/** A row with only the figures the table reads. */
function m(server: string, o: { mibps?: number; rps?: number; p99Ms?: number; rrq?: number; peak?: number; idle?: number; failures?: number }): Measurement {
  return {
    server,
    run: 1,
    runs: [{ rrqRetransmits: o.rrq ?? 0 } as Measurement['runs'][number]],
    median: { throughputMiBps: o.mibps ?? NaN, requestsPerSec: o.rps ?? NaN, p50Ms: NaN, p90Ms: NaN, p99Ms: o.p99Ms ?? NaN, maxMs: NaN, elapsedMs: NaN },
    requests: 500,
    failures: o.failures ?? 0,
    failuresByCode: {},
    negotiated: undefined,
    cpuSecondsPerRun: NaN,
    clientCpuSecondsPerRun: NaN,
    machineBusySecondsPerRun: NaN,
    peakRssMiB: o.peak ?? NaN,
    idleRssMiB: o.idle,
  };
}

const report = {
  iperf: [{ datagramBytes: 1468, sentMiBps: 400, receivedMiBps: 400, lostPercent: 0, command: 'iperf3' }],
  iperfRun: 1,
  results: {
    a: [m('in.tftpd', { mibps: 21 }), m('atftpd', { mibps: 22 }), m('npm-tftp', { mibps: 20 }), m('tftpfn', { mibps: 22 }), m('tftpfn-plain', { mibps: 19 })],
    // A lock-step row stored from before (b) ran windowed servers only: shown as "—".
    b: [m('in.tftpd', { mibps: 20 }), m('atftpd', { mibps: 200 }), m('npm-tftp', { mibps: 150 }), m('tftpfn', { mibps: 450 }), m('tftpfn-plain', { mibps: 160 })],
    d: [m('atftpd', { mibps: 100, p99Ms: 10_000, peak: 10, idle: 3 }), m('tftpfn', { mibps: 160, p99Ms: 6000, peak: 90, idle: 50 })],
    e: [m('atftpd', { rps: 9000, p99Ms: 4 }), m('tftpfn', { rps: 17_000, p99Ms: 5, rrq: 3, peak: 120 })],
  },
} as unknown as StoredReport;

describe('peer table (issue 13)', () => {
  it('shows "—" where a server did not run a scenario (in.tftpd has no windowsize) and tftpfn over the best peer', () => {
    const lines = peerTable(report);
    const ws64 = lines.find((l) => l.includes('windowsize 64 (MiB/s)'))!;
    // The forced-fallback row (tftpfn-plain) has its own column and its own ratio to the best peer.
    expect(ws64).toBe('| 64 MiB, blksize 1468, windowsize 64 (MiB/s) | — | 200.0 | 150.0 | 450.0 | 160.0 | 2.25× vs atftpd | 0.80× vs atftpd | 1 |');
    expect(lines.find((l) => l.includes('boot storm, throughput'))).toContain('| 1.60× vs atftpd | — |');
    expect(lines.find((l) => l.includes('lock-step (MiB/s)') && l.includes('1468'))).toContain('| 1.00× vs atftpd |');
    expect(lines.at(-1)).toContain('windowsize 64 ÷ iperf3: 1.13×');
  });

  it('judges the targets: met, not met, and not judged when a side is missing', () => {
    const byText = new Map(peerTargets(report).map((t) => [t.text, t]));
    expect(byText.get('windowsize 64: ≥ 2× atftpd')?.met).toBe(true);
    expect(byText.get('windowsize 64: ≥ 1.0× iperf3 UDP loopback (same run)')?.met).toBe(true);
    expect(byText.get('windowsize 16: ≥ 1.5× atftpd')?.met).toBeUndefined();
    expect(byText.get('lock-step blksize 1468: ≥ 1.0× the best of in.tftpd and atftpd')?.met).toBe(true);
    expect(byText.get('boot storm: ≥ 1.5× atftpd throughput')?.met).toBe(true);
    expect(byText.get('boot storm: p99 ≤ 0.7× atftpd\'s')?.met).toBe(true);
    expect(byText.get('1 KiB × 20: p99 ≤ atftpd\'s')?.met).toBe(false);
    expect(byText.get('1 KiB × 20: zero RRQ retransmissions by the client')).toMatchObject({ met: false, detail: '3 over 1 run(s)' });
    expect(byText.get('idle RSS ≤ 60 MiB')?.met).toBe(true);
    expect(byText.get('peak RSS during the storm and the 1 KiB run ≤ 100 MiB')?.met).toBe(false);
    // Fallback: windowsize 64 at 0.80x the best peer beats the 0.69x, lock-step 1468 at
    // 0.86x does not reach its 0.91x; rows without a tftpfn-plain figure are not judged.
    const fallback = byText.get('forced fallback (sendPath plain): no row slower than when issue 13 was filed (ratio to the best peer)');
    expect(fallback).toMatchObject({ met: false, detail: 'lock-step 1468 0.86× (then 0.91×); windowsize 64 0.80× (then 0.69×)' });
  });
});

describe('against a baseline build (npm run bench -- --baseline DIR)', () => {
  const withBase = {
    ...report,
    results: {
      ...report.results,
      a: [...report.results.a!, m('tftpfn-base', { mibps: 20 })],
      b: [...report.results.b!, m('tftpfn-base', { mibps: 160 })],
      d: [...report.results.d!, m('tftpfn-plain', { mibps: 150, p99Ms: 6500, idle: 49 }), m('tftpfn-base', { mibps: 140, p99Ms: 7000, idle: 70, peak: 120 })],
    },
  } as unknown as StoredReport;

  it('judges the fallback against the baseline of the same run, not the issue\'s table, on the rows both ran', () => {
    const texts = peerTargets(withBase).map((t) => t.text);
    expect(texts.some((t) => t.includes('when issue 13 was filed'))).toBe(false);
    const fallback = peerTargets(withBase).find((t) => t.text.includes('baseline build'));
    // 19/20 in lock-step is slower, 160/160 at windowsize 64 is level, 150/140 in the storm ahead.
    expect(fallback).toMatchObject({ met: false, detail: 'lock-step 1468 0.95×; windowsize 64 1.00×; boot storm 1.07×' });
    const level = { ...withBase, results: { ...withBase.results, a: [...report.results.a!, m('tftpfn-base', { mibps: 19 })] } } as unknown as StoredReport;
    expect(peerTargets(level).find((t) => t.text.includes('baseline build'))?.met).toBe(true);
  });

  it('has a table of this build and its fallback over the baseline, lower-is-better rows inverted; none without a baseline', () => {
    const lines = baselineTable(withBase);
    expect(lines[0]).toBe('| scenario | tftpfn, baseline build (--baseline) | tftpfn | tftpfn, forced fallback (sendPath plain) | tftpfn ÷ baseline | fallback ÷ baseline | runs |');
    expect(lines.find((l) => l.startsWith('| 64 MiB, blksize 1468, lock-step'))).toBe('| 64 MiB, blksize 1468, lock-step (MiB/s) | 20.0 | 22.0 | 19.0 | 1.10× | 0.95× | 1 |');
    expect(lines.find((l) => l.startsWith('| idle RSS'))).toBe('| idle RSS, fresh server after one probe (MiB) | 70.0 | 50.0 | 49.0 | 1.40× | 1.43× | 1 |');
    expect(lines.find((l) => l.startsWith('| peak RSS, boot storm'))).toBe('| peak RSS, boot storm (MiB) | 120.0 | 90.0 | — | 1.33× | — | 1 |');
    // The baseline ran no (e): no 1 KiB lines.
    expect(lines.some((l) => l.includes('1 KiB'))).toBe(false);
    expect(baselineTable(report)).toEqual([]);
  });
});

describe('merging a run into the stored results', () => {
  it('drops stored rows of servers the scenario no longer runs, keeps the others', async () => {
    const { mergeReports } = await import('../../../bench/merge.js');
    const base = { date: 'd', machine: {}, versions: {}, commands: { servers: {}, loads: {}, iperf: [] }, iperf: [], skipped: [], scenarios: [] };
    const previous = { ...base, runs: [{ id: 1 }], results: { b: [m('in.tftpd', { mibps: 20 }), m('fbtftp', { mibps: 15 }), m('npm-tftp', { mibps: 100 })] } } as unknown as StoredReport;
    const current = { ...base, runs: [{ id: 2 }], results: { b: [{ ...m('tftpfn', { mibps: 300 }), run: 2 }] } } as unknown as StoredReport;
    const merged = mergeReports(previous, current, { b: 'windowsize 64' } as never, { b: ['tftpfn', 'atftpd', 'npm-tftp'] });
    expect(merged.results.b?.map((x) => `${x.server}@${x.run}`)).toEqual(['tftpfn@2', 'npm-tftp@1']);
  });
});
