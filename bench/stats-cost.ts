/**
 * Scenario (i): what session stats cost. The load of (e) (1 KiB, 20 concurrent requesters)
 * against three tftpfn servers started fresh and measured in turns (measureInterleaved, as (g)):
 *
 *  - tftpfn: no Redis, so no stats sink (stats off);
 *  - tftpfn-stats: `redisUrl` + `statsToRedis: true`: every session record is pushed into the
 *    sink's ring buffer and shipped in pipelined batches (XADD to a stream, per-minute counters)
 *    to a real redis-server on loopback;
 *  - tftpfn-stats-metrics: the same, plus `metricsPort` (Prometheus /metrics).
 *
 * redis-server runs with `--save '' --appendonly no` on a free port, for this scenario only, and
 * is stopped at the end (also on error and Ctrl-C: child-process.ts). Each stats-on server writes
 * to its own stream, with MAXLEN far above what a run adds, so that afterwards XLEN proves every
 * session of the measured runs reached Redis: the entries added between the end of the warm-ups
 * and the end of the last round must equal the sessions the load client counted.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { ManagedProcess } from './child-process.js';
import { measureInterleaved, type Measurement, type StatsCheck } from './measure.js';
import { CpuTracker } from './proc-stats.js';
import { freePort, REDIS_SERVER, redisCommand, waitFor } from './s3-storm.js';
import type { Scenario, Sizes } from './scenarios.js';
import { describeCommand, tftpfn, type ServerName, type ServerSpec } from './servers.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export const STATS_STREAMS: Partial<Record<ServerName, string>> = {
  'tftpfn-stats': 'tftpfn:bench:sessions:stats',
  'tftpfn-stats-metrics': 'tftpfn:bench:sessions:stats-metrics',
};

/** The config of a stats-on server (-c); host, port and root come from flags as for every tftpfn row. */
export function statsConfig(redisPort: number | string, streamKey: string, metricsPort?: number | string): object {
  return {
    redisUrl: `redis://127.0.0.1:${redisPort}`,
    statsToRedis: true,
    statsStreamKey: streamKey,
    // Far above a run's sessions, so no entry is trimmed and XLEN counts them all.
    statsStreamMaxLen: 100_000_000,
    ...(metricsPort !== undefined ? { metricsPort, metricsHost: '127.0.0.1' } : {}),
  };
}

function httpGet(port: number, path: string): Promise<string | undefined> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path, timeout: 2000 }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c: string) => (body += c));
      res.on('end', () => resolve(body));
    });
    req.on('error', () => resolve(undefined));
    req.on('timeout', () => req.destroy());
    req.end();
  });
}

/** The sink's counters from a Prometheus text page. */
export function sinkFromMetrics(text: string): StatsCheck['sink'] {
  const num = (re: RegExp) => {
    const m = re.exec(text);
    return m ? Number(m[1]) : NaN;
  };
  // Labels besides result (gateway="...") may come in any order.
  const flushed = num(/^tftpfn_stats_records_total\{[^}]*result="flushed"[^}]*\} (\S+)$/m);
  const dropped = num(/^tftpfn_stats_records_total\{[^}]*result="dropped"[^}]*\} (\S+)$/m);
  const buffered = num(/^tftpfn_stats_records_buffered(?:\{[^}]*\})? (\S+)$/m);
  return Number.isFinite(flushed) ? { flushed, dropped, buffered } : undefined;
}

async function xlen(redisPort: number, key: string): Promise<number> {
  const reply = await redisCommand(redisPort, 'XLEN', key);
  if (!reply.startsWith(':')) throw new Error(`XLEN ${key}: ${reply}`);
  return Number(reply.slice(1));
}

export interface StatsCostOutput {
  rows: Measurement[];
  commands: Record<string, string>;
  skipped: string[];
}

export async function runStatsCost(opts: {
  scenario: Scenario;
  sizes: Sizes;
  root: string;
  confDir: string;
  folderSpec: ServerSpec;
  ports: Record<'tftpfn' | 'tftpfn-stats' | 'tftpfn-stats-metrics', number>;
  selected: (name: ServerName) => boolean;
  log: (s: string) => void;
}): Promise<StatsCostOutput> {
  const { scenario: sc, sizes, root, confDir, log } = opts;
  const skipped: string[] = [];
  const commands: Record<string, string> = {};
  let statsNames = (['tftpfn-stats', 'tftpfn-stats-metrics'] as const).filter(opts.selected);
  if (statsNames.length > 0 && !existsSync(REDIS_SERVER)) {
    skipped.push(`(i) stats-on rows: ${REDIS_SERVER} not found (apt-get install redis-server)`);
    statsNames = [];
  }
  let redis: ManagedProcess | undefined;
  let redisPort = 0;
  let metricsPort = 0;
  const servers: { spec: ServerSpec; port: number }[] = [];
  if (opts.selected('tftpfn')) servers.push({ spec: opts.folderSpec, port: opts.ports.tftpfn });
  try {
    if (statsNames.length > 0) {
      const redisDir = join(confDir, 'redis-stats');
      mkdirSync(redisDir, { recursive: true });
      redisPort = await freePort();
      redis = new ManagedProcess('redis-server', REDIS_SERVER, ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', redisDir]);
      await waitFor('redis-server', redis, async () => (await redisCommand(redisPort, 'PING').catch(() => '')) === '+PONG');
      commands['redis-server (i)'] = `${REDIS_SERVER} --port REDISPORT --bind 127.0.0.1 --save '' --appendonly no --dir CONF/redis-stats`;
      metricsPort = await freePort();
      for (const name of statsNames) {
        const confPath = join(confDir, `${name}.json`);
        writeFileSync(confPath, `${JSON.stringify(statsConfig(redisPort, STATS_STREAMS[name]!, name === 'tftpfn-stats-metrics' ? metricsPort : undefined))}\n`);
        const spec = tftpfn(name, 1, confPath);
        servers.push({ spec, port: opts.ports[name] });
        commands[name] = describeCommand(spec, 'PORT', 'ROOT', confDir);
      }
    }

    const before: Record<string, number> = {};
    const after: Record<string, number> = {};
    let sink: StatsCheck['sink'];
    let redisCpu: CpuTracker | undefined;
    let redisCpuSeconds: number | undefined;
    const rows = await measureInterleaved(sc, servers, root, sizes, log, {
      beforeRounds: async () => {
        if (!redis) return;
        await sleep(1000); // the warm-ups' last batches (statsFlushMs 250) reach Redis first
        for (const name of statsNames) before[name] = await xlen(redisPort, STATS_STREAMS[name]!).catch(() => NaN);
        redisCpu = new CpuTracker(redis.pid);
      },
      afterRounds: async () => {
        if (!redis) return;
        await sleep(1500); // the last batches of the last run
        redisCpuSeconds = redisCpu?.stop();
        for (const name of statsNames) after[name] = await xlen(redisPort, STATS_STREAMS[name]!).catch(() => NaN);
        if (statsNames.includes('tftpfn-stats-metrics')) {
          const text = await httpGet(metricsPort, '/metrics');
          sink = text ? sinkFromMetrics(text) : undefined;
          if (!sink) log(`  tftpfn-stats-metrics: no stats sink counters on /metrics`);
        }
      },
    });
    for (const m of rows) {
      const key = STATS_STREAMS[m.server as ServerName];
      if (!key || m.error || !(m.server in after)) continue;
      const sessions = m.runs.reduce((n, r) => n + r.requests + r.failures, 0);
      m.statsCheck = {
        streamKey: key,
        xlenBefore: before[m.server],
        xlenAfter: after[m.server],
        added: after[m.server] - before[m.server],
        sessions,
        ...(m.server === 'tftpfn-stats-metrics' && sink ? { sink } : {}),
        redisCpuSeconds,
      };
      log(`  ${m.server}: stream ${key} XLEN ${before[m.server]} → ${after[m.server]} (+${m.statsCheck.added}) for ${sessions} sessions measured${sink && m.server === 'tftpfn-stats-metrics' ? `; sink flushed ${sink.flushed}, dropped ${sink.dropped}, buffered ${sink.buffered}` : ''}`);
    }
    return { rows, commands, skipped };
  } finally {
    await redis?.stop(2000);
  }
}
