/**
 * `npm run bench`: tftpfn against in.tftpd (tftpd-hpa) and fbtftp on loopback, with iperf3 as
 * the UDP ceiling, in one invocation. Writes docs/BENCHMARKS.md and bench/results/latest.json.
 *
 *   npm run bench                       full run (several minutes)
 *   npm run bench -- --quick            small files, one run each (about a minute)
 *   npm run bench -- --runs 5 --only a,b,e --servers tftpfn,in.tftpd
 *
 * Every server and load client is a child process in its own process group and is killed at the
 * end, on error and on Ctrl-C; the temporary folder is removed.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync, openSync, writeSync, closeSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { killAllSync, stopAll } from './child-process.js';
import { runIperf, type IperfResult } from './iperf.js';
import { machineInfo } from './machine-info.js';
import { measure, type Measurement } from './measure.js';
import { renderMarkdown, type BenchReport } from './report.js';
import { FILES, HELD_BYTES, SMALL_BYTES, scenarios, sizesFor, type ScenarioId } from './scenarios.js';
import { describeLoad } from './load-client.js';
import { describeCommand, serverSpecs, serverVersions, type ServerName } from './servers.js';

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
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(`usage: npm run bench -- [--quick] [--runs N] [--only a,b,c,d,e,f] [--servers tftpfn,tftpfn-p2,in.tftpd,fbtftp]
                     [--out docs/BENCHMARKS.md] [--json bench/results/latest.json] [--port-base 16900] [--no-iperf]\n`);
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
    servers: values.servers ? new Set(values.servers.split(',').map((s) => s.trim())) : undefined,
    out: values.out!,
    json: values.json!,
    portBase,
    iperf: !values['no-iperf'],
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
  const cleanup = () => {
    killAllSync();
    rmSync(root, { recursive: true, force: true });
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
    const loadAtStart = os.loadavg().map((x) => x.toFixed(2)).join(' ');

    const specs = serverSpecs();
    const ports: Record<ServerName, number> = { tftpfn: cli.portBase, 'tftpfn-p2': cli.portBase + 1, 'in.tftpd': cli.portBase + 2, fbtftp: cli.portBase + 3 };
    const skipped: string[] = [];
    for (const s of specs) if (s.unavailable) skipped.push(`${s.name}: ${s.unavailable}`);

    const iperf: IperfResult[] = [];
    if (cli.iperf) {
      for (const size of [1472, 65468]) {
        try {
          log(`iperf3 -u, ${size}-byte datagrams`);
          iperf.push(await runIperf(cli.portBase + 9, size, cli.quick ? 2 : 5));
        } catch (e) {
          skipped.push(`iperf3 at ${size} bytes: ${(e as Error).message}`);
        }
      }
    }

    const all = scenarios().filter((s) => !cli.only || cli.only.has(s.id));
    const results: Partial<Record<ScenarioId, Measurement[]>> = {};
    const loads: Partial<Record<ScenarioId, string>> = {};
    for (const sc of all) {
      log(`(${sc.id}) ${sc.title}`);
      loads[sc.id] = describeLoad(sc.load(0, sizes)).replace('127.0.0.1:0', '127.0.0.1:PORT');
      const rows: Measurement[] = [];
      for (const name of sc.servers) {
        const spec = specs.find((s) => s.name === name)!;
        if (spec.unavailable || (cli.servers && !cli.servers.has(name))) continue;
        try {
          rows.push(await measure(sc, spec, ports[name], root, sizes, log));
        } catch (e) {
          log(`  ${name}: ${(e as Error).message}`);
          rows.push({ server: name, error: (e as Error).message } as Measurement);
        }
      }
      results[sc.id] = rows;
    }

    const report: BenchReport = {
      date: new Date().toISOString(),
      quick: cli.quick,
      sizes,
      machine: { ...machineInfo(), 'load average at start / end': `${loadAtStart} / ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}` },
      versions: { ...serverVersions(), tftpfn: (await import('node:module')).createRequire(import.meta.url)('../../package.json').version },
      commands: {
        harness: `npm run bench${cli.quick ? ' -- --quick' : ''}`,
        servers: Object.fromEntries(specs.filter((s) => !s.unavailable).map((s) => [s.name, describeCommand(s, 'PORT', 'ROOT')])),
        loads,
        iperf: iperf.map((i) => i.command),
      },
      iperf,
      results,
      skipped,
      scenarios: all,
    };
    writeFileSync(cli.out, renderMarkdown(report));
    mkdirSync(join(cli.json, '..'), { recursive: true });
    writeFileSync(cli.json, JSON.stringify({ ...report, scenarios: all.map((s) => ({ id: s.id, title: s.title })) }, null, 1));
    log(`bench: wrote ${cli.out} and ${cli.json}`);
  } finally {
    await stopAll();
    cleanup();
  }
}

main().catch((e) => {
  log(`bench: ${(e as Error).stack ?? e}`);
  process.exitCode = 1;
});
