/**
 * The fuzz run of issue 9 §6, outside the regular test run:
 *   npm run fuzz -- [--cases N] [--datagrams N] [--seed S] [--max-seconds T] [--only codec,sessions,live]
 *
 * - codec: N cases through decodePacket / encodePacket (scripts/fuzz/codec.ts);
 * - sessions: N cases of the pure read and write machines, half each (scripts/fuzz/sessions.ts);
 * - live: N hostile datagrams at two live gateways (per-session ports and single-port) in a
 *   child process, then byte-identical transfers from both (scripts/fuzz/live.ts).
 *
 * Defaults: 1,000,000 of each. Every case has its own seed (seed + case number), printed with
 * any failure, so one case replays with --seed S --first K --cases 1. The run stops at
 * --max-seconds (default 1800) and says how many cases it ran. Exit status 1 on any failure.
 */
import { prng } from '../../test/helpers/seeded.js';
import { codecCase, type CodecStats } from './codec.js';
import { runLive, liveChild } from './live.js';
import { CaseFailure, readCase, writeCase, type SessionStats } from './sessions.js';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1] : fallback;
}

/** Each case's own generator: independent of the cases before it, so it replays alone. */
export const caseRand = (seed: number, k: number) => prng((seed ^ Math.imul(k + 1, 0x9e3779b1)) >>> 0);

async function main(): Promise<number> {
  const cases = Number(arg('cases', '1000000'));
  const datagrams = Number(arg('datagrams', '1000000'));
  const seed = Number(arg('seed', String(Date.now() % 2 ** 31))) >>> 0;
  const first = Number(arg('first', '0'));
  const maxMs = Number(arg('max-seconds', '1800')) * 1000;
  const only = new Set(arg('only', 'codec,sessions,live').split(','));
  const started = performance.now();
  const late = () => performance.now() - started > maxMs;
  const failures: string[] = [];
  console.log(`fuzz: seed ${seed}, ${cases} codec cases, ${cases} session cases, ${datagrams} live datagrams, at most ${maxMs / 1000} s`);

  if (only.has('codec')) {
    const t0 = performance.now();
    const stats: CodecStats = { cases: 0, decoded: 0, refused: 0, failures: [] };
    for (let k = first; k < first + cases && !late(); k++) {
      const why = codecCase(caseRand(seed, k), stats);
      if (why && failures.push(`codec case ${k} (--seed ${seed} --first ${k} --cases 1 --only codec): ${why}`) > 50) break;
    }
    console.log(`codec: ${stats.cases} cases in ${((performance.now() - t0) / 1000).toFixed(1)} s: ${stats.decoded} decoded and round-tripped, ${stats.refused} refused with a TftpError`);
  }

  if (only.has('sessions')) {
    const t0 = performance.now();
    const stats: SessionStats = { readCases: 0, writeCases: 0, inputs: 0, datagrams: 0, outcomes: {} };
    for (let k = first; k < first + cases && !late(); k++) {
      try {
        (k % 2 === 0 ? readCase : writeCase)(caseRand(seed ^ 0x5e55, k), stats);
      } catch (e) {
        const what = e instanceof CaseFailure ? e.message : `harness error: ${(e as Error)?.stack ?? e}`;
        if (failures.push(`session case ${k} (${k % 2 === 0 ? 'read' : 'write'}; --seed ${seed} --first ${k} --cases 1 --only sessions): ${what}`) > 50) break;
      }
    }
    const outcomes = Object.entries(stats.outcomes)
      .sort()
      .map(([k, v]) => `${k} ${v}`)
      .join(', ');
    console.log(
      `sessions: ${stats.readCases} read + ${stats.writeCases} write cases in ${((performance.now() - t0) / 1000).toFixed(1)} s: ${stats.inputs} inputs, ${stats.datagrams} datagrams sent; outcomes: ${outcomes}`,
    );
  }

  if (only.has('live')) {
    const t0 = performance.now();
    const result = await runLive({ seed, datagrams, deadlineMs: Math.max(60_000, maxMs - (performance.now() - started)) });
    for (const f of result.failures) failures.push(`live: ${f}`);
    console.log(`live: ${result.summary} in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  }

  console.log(`fuzz: seed ${seed}, ${((performance.now() - started) / 1000).toFixed(1)} s in all, ${failures.length} failure(s)`);
  for (const f of failures) console.log(`  FAIL ${f}`);
  return failures.length === 0 ? 0 : 1;
}

if (process.env.FUZZ_ROLE === 'gateway') await liveChild();
else process.exitCode = await main();
