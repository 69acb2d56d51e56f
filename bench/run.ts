/**
 * `npm run bench`: tftpfn against in.tftpd (tftpd-hpa) and fbtftp on loopback, with iperf3 as
 * the UDP ceiling, in one invocation. Writes docs/BENCHMARKS.md and bench/results/latest.json;
 * what is not re-measured (--only, --servers) is kept from latest.json (merge.ts).
 *
 *   npm run bench                       full run (several minutes)
 *   npm run bench -- --quick            small files, one run each (about a minute)
 *   npm run bench -- --runs 5 --only a,b,e --servers tftpfn,in.tftpd
 *   npm run bench -- --only e,g         the function runtime against the folder
 *   npm run bench -- --only h           the boot storm from S3 (s3rver + redis-server) vs folder and in.tftpd
 *   npm run bench -- --only i           session stats to Redis (redis-server) on vs off
 *
 * Every server and load client is a child process in its own process group and is killed at the
 * end, on error and on Ctrl-C; the temporary folder is removed.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, openSync, writeSync, closeSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { killAllSync, stopAll } from './child-process.js';
import { runIperf, type IperfResult } from './iperf.js';
import { machineInfo } from './machine-info.js';
import { measure, measureInterleaved, type Measurement } from './measure.js';
import { oneKib } from './functions/one-kib.js';
import { mergeReports, nextRunId, normalizeStored, type StoredReport } from './merge.js';
import { renderMarkdown } from './report.js';
import { runS3Storm } from './s3-storm.js';
import { runStatsCost } from './stats-cost.js';
import { ensureBenchTools } from './setup.js';
import { gitDescribe } from './repo-root.js';
import { FILES, HELD_BYTES, SMALL_BYTES, scenarios, sizesFor, type ScenarioId } from './scenarios.js';
import { describeLoad } from './load-client.js';
import { describeCommand, serverSpecs, serverVersions, writeFunctionConfigs, writePlainSendPathConfig, type ServerName } from './servers.js';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

function parseCli() {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      runs: { type: 'string' },
      only: { type: 'string' },
      servers: { type: 'string' },
      out: { type: 'string', default: join(repoRoot, 'docs/BENCHMARKS.md') },
      json: { type: 'string', default: join(repoRoot, 'bench/results/latest.json') },
      'port-base': { type: 'string', default: '16900' },
      'no-iperf': { type: 'boolean', default: false },
      fresh: { type: 'boolean', default: false },
      'no-setup': { type: 'boolean', default: false },
      commit: { type: 'string' },
      baseline: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(`usage: npm run bench -- [--quick] [--runs N] [--only a,j,b,c,d,e,f,g,h,i] [--servers tftpfn,tftpfn-p2,tftpfn-plain,tftpfn-fn1,tftpfn-fn2,tftpfn-fn4,tftpfn-s3-cold,tftpfn-s3-warm,tftpfn-s3-fleet,tftpfn-stats,tftpfn-stats-metrics,tftpfn-base,in.tftpd,atftpd,npm-tftp,node-floor,fbtftp]
                     [--out docs/BENCHMARKS.md] [--json bench/results/latest.json] [--port-base 16900] [--no-iperf] [--fresh] [--no-setup] [--commit SHA]
                     [--baseline DIR]

Scenarios and servers not selected keep their stored figures from --json (each says which run
measured it); --fresh discards them. iperf3 runs only when (b), which is judged against it, runs.
Missing comparison servers (tftpd-hpa, atftpd) and iperf3 are installed with apt-get first
(bench/setup.ts); --no-setup skips that. --baseline DIR adds tftpfn-base, the gateway built in
another checkout (git worktree add DIR COMMIT; npm ci && npm run build there), to (a)-(e): the
forced fallback is then judged against it in the same run.\n`);
    process.exit(0);
  }
  const runs = values.runs === undefined ? undefined : Number(values.runs);
  if (runs !== undefined && !(Number.isInteger(runs) && runs >= 1 && runs <= 20)) throw new Error('--runs must be a whole number from 1 to 20');
  const portBase = Number(values['port-base']);
  if (!(Number.isInteger(portBase) && portBase >= 1024 && portBase <= 65000)) throw new Error('--port-base must be from 1024 to 65000');
  return {
    quick: values.quick!,
    runs,
    only: values.only ? new Set(values.only.split(',').map((s) => s.trim())) : undefined,
    // --baseline names a server to run: it is selected with --servers or without.
    servers: values.servers ? new Set([...values.servers.split(',').map((s) => s.trim()), ...(values.baseline ? ['tftpfn-base'] : [])]) : undefined,
    out: values.out!,
    json: values.json!,
    portBase,
    iperf: !values['no-iperf'],
    fresh: values.fresh!,
    setup: !values['no-setup'],
    commit: values.commit,
    baseline: values.baseline,
  };
}

/** Writes `bytes` of random data in 1 MiB pieces (never holds the file in memory). */
function writeRandomFile(path: string, bytes: number): void {
  const fd = openSync(path, 'w');
  try {
    for (let left = bytes; left > 0; ) {
      const n = Math.min(left, 1 << 20);
      writeSync(fd, randomBytes(n));
      left -= n;
    }
  } finally {
    closeSync(fd);
  }
}

const log = (s: string) => process.stderr.write(`${s}\n`);

async function main(): Promise<void> {
  const cli = parseCli();
  const sizes = sizesFor(cli.quick, cli.runs);
  const root = mkdtempSync(join(os.tmpdir(), 'tftpfn-bench-'));
  // Apart from root, so the configs are not among the files served.
  const confDir = mkdtempSync(join(os.tmpdir(), 'tftpfn-bench-conf-'));
  const cleanup = () => {
    killAllSync();
    rmSync(root, { recursive: true, force: true });
    rmSync(confDir, { recursive: true, force: true });
  };
  process.on('exit', cleanup);
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      log(`bench: ${sig}, stopping servers and clients`);
      process.exit(130);
    });
  }

  try {
    writeRandomFile(join(root, FILES.big), sizes.bigBytes);
    writeRandomFile(join(root, FILES.boot), sizes.bootBytes);
    writeRandomFile(join(root, FILES.small), SMALL_BYTES);
    writeRandomFile(join(root, FILES.held), HELD_BYTES);
    if (sizes.s3ObjectBytes) writeRandomFile(join(root, FILES.s3Boot), sizes.s3ObjectBytes);
    writeFileSync(join(root, FILES.generated), oneKib());
    writeFunctionConfigs(confDir);
    writePlainSendPathConfig(confDir);
    const loadAtStart = os.loadavg().map((x) => x.toFixed(2)).join(' ');

    const setupProblems = cli.setup ? ensureBenchTools(log) : [];
    const specs = serverSpecs(confDir, cli.baseline);
    const ports: Record<ServerName, number> = {
      tftpfn: cli.portBase, 'tftpfn-p2': cli.portBase + 1, 'in.tftpd': cli.portBase + 2, fbtftp: cli.portBase + 3,
      atftpd: cli.portBase + 8, 'npm-tftp': cli.portBase + 12,
      'tftpfn-fn1': cli.portBase + 4, 'tftpfn-fn2': cli.portBase + 5, 'tftpfn-fn4': cli.portBase + 6,
      'tftpfn-s3-cold': cli.portBase + 7, 'tftpfn-s3-warm': cli.portBase + 7, 'tftpfn-s3-fleet': cli.portBase + 7,
      // +8 is atftpd's, +9 iperf3's.
      'tftpfn-stats': cli.portBase + 10, 'tftpfn-stats-metrics': cli.portBase + 11,
      'tftpfn-plain': cli.portBase + 13, 'node-floor': cli.portBase + 14, 'tftpfn-base': cli.portBase + 15,
    };
    const skipped: string[] = [...setupProblems];
    for (const s of specs) if (s.unavailable) skipped.push(`${s.name}: ${s.unavailable}`);

    const iperf: IperfResult[] = [];
    // The ceiling is only (b)'s yardstick: a run without (b) keeps the stored one.
    const iperfWanted = cli.iperf && (!cli.only || cli.only.has('b'));
    if (iperfWanted) {
      // 1468: the payload of a 1468-byte block, as issue 13's ceiling (iperf3 -u -l 1468).
      for (const size of [1468, 65468]) {
        try {
          log(`iperf3 -u, ${size}-byte datagrams`);
          iperf.push(await runIperf(cli.portBase + 9, size, cli.quick ? 2 : 5));
        } catch (e) {
          skipped.push(`iperf3 at ${size} bytes: ${(e as Error).message}`);
        }
      }
    }

    const previous = cli.fresh || !existsSync(cli.json) ? undefined : normalizeStored(JSON.parse(readFileSync(cli.json, 'utf8')));
    const runId = nextRunId(previous);
    const all = scenarios().filter((s) => !cli.only || cli.only.has(s.id));
    const results: Partial<Record<ScenarioId, Measurement[]>> = {};
    const loads: Partial<Record<ScenarioId, string>> = {};
    const extraCommands: Record<string, string> = {};
    for (const sc of all) {
      log(`(${sc.id}) ${sc.title}`);
      loads[sc.id] = describeLoad(sc.load(0, sizes)).replace('127.0.0.1:0', '127.0.0.1:PORT');
      const rows: Measurement[] = [];
      if (sc.redis) {
        const out = await runStatsCost({
          scenario: sc, sizes, root, confDir, log,
          folderSpec: specs.find((s) => s.name === 'tftpfn')!,
          ports: { tftpfn: ports.tftpfn, 'tftpfn-stats': ports['tftpfn-stats'], 'tftpfn-stats-metrics': ports['tftpfn-stats-metrics'] },
          selected: (name) => !cli.servers || cli.servers.has(name),
        });
        results[sc.id] = out.rows.map((m) => ({ ...m, run: runId }));
        skipped.push(...out.skipped);
        Object.assign(extraCommands, out.commands);
        continue;
      }
      if (sc.custom) {
        const spec = (name: ServerName) => specs.find((s) => s.name === name)!;
        const out = await runS3Storm({
          scenario: sc, sizes, root, confDir, log,
          gatewayPort: ports['tftpfn-s3-cold'], folderSpec: spec('tftpfn'), folderPort: ports.tftpfn, tftpdSpec: spec('in.tftpd'), tftpdPort: ports['in.tftpd'],
          selected: (name) => !cli.servers || cli.servers.has(name),
        });
        results[sc.id] = out.rows.map((m) => ({ ...m, run: runId }));
        skipped.push(...out.skipped);
        Object.assign(extraCommands, out.commands);
        continue;
      }
      // tftpfn-base has no spec without --baseline.
      const chosen = sc.servers.flatMap((name) => specs.filter((s) => s.name === name)).filter((spec) => !spec.unavailable && (!cli.servers || cli.servers.has(spec.name)));
      if (sc.interleave) {
        rows.push(...(await measureInterleaved(sc, chosen.map((spec) => ({ spec, port: ports[spec.name] })), root, sizes, log)).map((m) => ({ ...m, run: runId })));
      }
      for (const spec of sc.interleave ? [] : chosen) {
        const name = spec.name;
        try {
          rows.push({ ...(await measure(sc, spec, ports[name], root, sizes, log)), run: runId });
        } catch (e) {
          log(`  ${name}: ${(e as Error).message}`);
          rows.push({ server: name, error: (e as Error).message, run: runId } as Measurement);
        }
      }
      results[sc.id] = rows;
    }

    const versions = { ...serverVersions(), tftpfn: (await import('node:module')).createRequire(import.meta.url)('../../package.json').version as string };
    const args = process.argv.slice(2);
    const date = new Date().toISOString();
    const current: StoredReport = {
      date,
      machine: machineInfo(),
      versions,
      commands: {
        servers: { ...Object.fromEntries(specs.filter((s) => !s.unavailable).map((s) => [s.name, describeCommand(s, 'PORT', 'ROOT', confDir)])), ...extraCommands },
        loads,
        iperf: iperf.map((i) => i.command),
      },
      runs: [{
        id: runId,
        date,
        harness: `npm run bench${args.length ? ` -- ${args.join(' ')}` : ''}`,
        quick: cli.quick,
        sizes,
        loadAverage: `${loadAtStart} / ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`,
        tftpfnVersion: versions.tftpfn,
        // A private copy (bench/README.md) shares the checkout's .git, whose HEAD may have moved
        // on since the copy was taken: --commit names what was copied.
        commit: cli.commit ?? gitDescribe(repoRoot),
        ...(cli.baseline ? { baselineCommit: gitDescribe(cli.baseline) } : {}),
      }],
      iperf,
      iperfRun: iperf.length > 0 ? runId : undefined,
      results,
      skipped,
      scenarios: all.map((s) => ({ id: s.id, title: s.title })),
    };
    const titles = Object.fromEntries(scenarios().map((s) => [s.id, s.title])) as Record<ScenarioId, string>;
    const report = mergeReports(previous, current, titles, Object.fromEntries(scenarios().map((s) => [s.id, s.servers])));
    writeFileSync(cli.out, renderMarkdown(report));
    mkdirSync(join(cli.json, '..'), { recursive: true });
    writeFileSync(cli.json, JSON.stringify(report, null, 1));
    log(`bench: wrote ${cli.out} and ${cli.json}${previous ? ` (run ${runId}, merged with the stored results)` : ''}`);
  } finally {
    await stopAll();
    cleanup();
  }
}

main().catch((e) => {
  log(`bench: ${(e as Error).stack ?? e}`);
  process.exitCode = 1;
});
