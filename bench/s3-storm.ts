/**
 * Scenario (h): the boot storm of (d) on one larger object served from S3 — a real s3rver on
 * loopback, the shared cache in a real redis-server — against the same file from the folder and
 * from in.tftpd.
 *
 * Each round measures, in this order:
 *  1. tftpfn-s3-cold: Redis flushed, a fresh gateway process, one storm. The S3 server counts
 *     every request and body byte it serves (a preload hook, as test/helpers/s3rver.ts does), so
 *     "the bucket sends about one copy" is measured at the bucket, not by the gateway.
 *  2. tftpfn-s3-warm: a second storm on the same gateway and Redis (cache hits).
 *  3. tftpfn-s3-fleet: that gateway stopped, a fresh one on the same (warm) Redis: another
 *     gateway of a fleet seeing the object for the first time.
 *  4. tftpfn from the folder, and 5. in.tftpd from disk: fresh processes, the load of (d).
 * Every row runs on a freshly started process except (2), which is the point of (2).
 */
import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { createConnection, createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { LoadResult } from '../client/index.js';
import { ManagedProcess } from './child-process.js';
import { runLoadClient } from './load-client.js';
import { summarize, type Measurement, type UpstreamCount } from './measure.js';
import { CpuTracker, machineBusySeconds, startRssSampler } from './proc-stats.js';
import { FILES, S3_BUCKET, S3_KEY, S3_PATH, type Scenario, type Sizes } from './scenarios.js';
import { describeCommand, startServer, tftpfn, type ServerName, type ServerSpec } from './servers.js';

export const REDIS_SERVER = '/usr/bin/redis-server';
const S3RVER_BIN = fileURLToPath(new URL('../../node_modules/s3rver/bin/s3rver.js', import.meta.url));
const COUNTS_PATH = '/?tftpfn-bench=counts';

/**
 * Loaded into s3rver with `node -r`: counts every finished response (method, status, body bytes
 * actually written; 0 for HEAD) in the process, and answers COUNTS_PATH itself with the totals
 * since the last such request, so the harness reads exact figures per storm without a log.
 */
const PRELOAD = `
const http = require('node:http');
let counts = { gets: 0, heads: 0, other: 0, errors: 0, bodyBytes: 0 };
const emit = http.Server.prototype.emit;
http.Server.prototype.emit = function (event, req, res) {
  if (event === 'request') {
    if (req.url === ${JSON.stringify(COUNTS_PATH)}) {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify(counts));
      counts = { gets: 0, heads: 0, other: 0, errors: 0, bodyBytes: 0 };
      return true;
    }
    let bytes = 0;
    const count = (chunk, encoding) => {
      if (chunk && typeof chunk !== 'function') bytes += Buffer.byteLength(chunk, typeof encoding === 'string' ? encoding : undefined);
    };
    const write = res.write, end = res.end;
    res.write = function (chunk, encoding, cb) { if (req.method !== 'HEAD') count(chunk, encoding); return write.call(this, chunk, encoding, cb); };
    res.end = function (chunk, encoding, cb) { if (req.method !== 'HEAD') count(chunk, encoding); return end.call(this, chunk, encoding, cb); };
    res.on('finish', () => {
      if (req.method === 'GET') counts.gets++; else if (req.method === 'HEAD') counts.heads++; else counts.other++;
      if (res.statusCode >= 300 && res.statusCode !== 304) counts.errors++;
      counts.bodyBytes += bytes;
    });
  }
  return emit.apply(this, arguments);
};
`;

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function waitFor(what: string, proc: ManagedProcess, ready: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!proc.running) throw new Error(`${what} exited: ${proc.stderr.trim().slice(-500)}`);
    if (await ready()) return;
    await sleep(100);
  }
  throw new Error(`${what} not ready after ${timeoutMs} ms: ${proc.stderr.trim().slice(-500)}`);
}

type S3Counts = Omit<UpstreamCount, 'objectBytes' | 's3CpuSeconds'>;

function readCounts(port: number): Promise<S3Counts | undefined> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path: COUNTS_PATH, timeout: 2000 }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c: string) => (body += c));
      res.on('end', () => {
        try {
          resolve(JSON.parse(body) as S3Counts);
        } catch {
          resolve(undefined);
        }
      });
    });
    req.on('error', () => resolve(undefined));
    req.on('timeout', () => req.destroy());
    req.end();
  });
}

/** One RESP command over a fresh connection; resolves with the first reply line. */
export function redisCommand(port: number, ...args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = createConnection({ host: '127.0.0.1', port });
    let reply = '';
    sock.setTimeout(2000, () => sock.destroy(new Error('redis: no reply')));
    sock.on('connect', () => sock.write(`*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`));
    sock.setEncoding('utf8').on('data', (c: string) => {
      reply += c;
      if (reply.includes('\r\n')) {
        sock.end();
        resolve(reply.slice(0, reply.indexOf('\r\n')));
      }
    });
    sock.on('error', reject);
  });
}

export interface S3StormOutput {
  rows: Measurement[];
  /** Commands for the report (PORT, ROOT, CONF placeholders). */
  commands: Record<string, string>;
  skipped: string[];
  /** The gateway config, as the report shows it. */
  config: object;
}

/** The S3 gateway's config (-c); host, port and root come from flags as for every tftpfn row. */
export function s3GatewayConfig(s3Port: number | string, redisPort: number | string, root: string): object {
  return {
    objectStore: 's3',
    s3Endpoint: `http://127.0.0.1:${s3Port}`,
    s3ForcePathStyle: true,
    s3Region: 'us-east-1',
    s3AccessKeyId: 'S3RVER',
    s3SecretAccessKey: 'S3RVER',
    redisUrl: `redis://127.0.0.1:${redisPort}`,
    maxSessionsPerClient: 10000,
    routes: [{ match: 'boot/**', bucket: S3_BUCKET, stripPrefix: true }],
    // The readiness probe (small.bin) and nothing else comes from the folder.
    defaultRoute: { folder: root },
  };
}

/** One row's runs, with CPU and memory taken around each run as measure.ts does. */
class Row {
  readonly runs: LoadResult[] = [];
  readonly upstream: UpstreamCount[] = [];
  cpuSeconds = 0;
  busySeconds = 0;
  peakRssMiB = 0;
  error?: string;
  constructor(readonly name: ServerName) {}

  result(withUpstream: boolean): Measurement {
    if (this.runs.length === 0) return { server: this.name, error: this.error ?? 'no run completed' } as Measurement;
    return { ...summarize(this.name, this.runs, this.cpuSeconds, this.busySeconds, this.peakRssMiB), ...(withUpstream ? { upstream: this.upstream } : {}) };
  }
}

export async function runS3Storm(opts: {
  scenario: Scenario;
  sizes: Sizes;
  root: string;
  confDir: string;
  gatewayPort: number;
  folderSpec: ServerSpec;
  folderPort: number;
  tftpdSpec: ServerSpec;
  tftpdPort: number;
  selected: (name: ServerName) => boolean;
  log: (s: string) => void;
}): Promise<S3StormOutput> {
  const { scenario: sc, sizes, root, confDir, log } = opts;
  const objectBytes = sizes.s3ObjectBytes ?? 20 << 20;
  const skipped: string[] = [];
  const commands: Record<string, string> = {};
  const s3Rows = (['tftpfn-s3-cold', 'tftpfn-s3-warm', 'tftpfn-s3-fleet'] as const).filter(opts.selected);
  let s3Wanted = s3Rows.length > 0;
  if (s3Wanted && !existsSync(REDIS_SERVER)) {
    skipped.push(`(h) S3 rows: ${REDIS_SERVER} not found (apt-get install redis-server)`);
    s3Wanted = false;
  }
  if (s3Wanted && !existsSync(S3RVER_BIN)) {
    skipped.push(`(h) S3 rows: ${S3RVER_BIN} not found (npm install: s3rver is a devDependency)`);
    s3Wanted = false;
  }
  const rows = new Map<ServerName, Row>();
  const row = (n: ServerName) => rows.get(n) ?? rows.set(n, new Row(n)).get(n)!;

  const s3Dir = join(confDir, 's3rver');
  const redisDir = join(confDir, 'redis');
  const confPath = join(confDir, 's3-gateway.json');
  let s3: ManagedProcess | undefined;
  let redis: ManagedProcess | undefined;
  let s3Port = 0;
  let redisPort = 0;
  const gatewaySpec = tftpfn('tftpfn-s3-cold', 1, confPath);
  if (s3Wanted) {
    mkdirSync(s3Dir, { recursive: true });
    mkdirSync(redisDir, { recursive: true });
    const preload = join(confDir, 's3rver-count-requests.cjs');
    writeFileSync(preload, PRELOAD);
    s3Port = await freePort();
    s3 = new ManagedProcess('s3rver', process.execPath, ['--openssl-legacy-provider', '-r', preload, S3RVER_BIN, '-d', s3Dir, '-a', '127.0.0.1', '-p', String(s3Port), '-s']);
    redisPort = await freePort();
    redis = new ManagedProcess('redis-server', REDIS_SERVER, ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', redisDir]);
    await waitFor('s3rver', s3, async () => (await readCounts(s3Port)) !== undefined);
    await waitFor('redis-server', redis, async () => (await redisCommand(redisPort, 'PING').catch(() => '')) === '+PONG');
    const admin = new S3Client({ endpoint: `http://127.0.0.1:${s3Port}`, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' }, maxAttempts: 1 });
    try {
      await admin.send(new CreateBucketCommand({ Bucket: S3_BUCKET }));
      await admin.send(new PutObjectCommand({ Bucket: S3_BUCKET, Key: S3_KEY, Body: readFileSync(join(root, FILES.s3Boot)) }));
    } finally {
      admin.destroy();
    }
    writeFileSync(confPath, `${JSON.stringify(s3GatewayConfig(s3Port, redisPort, root), null, 1)}\n`);
    commands['tftpfn-s3-cold'] = describeCommand(gatewaySpec, 'PORT', 'ROOT', confDir);
    commands.s3rver = `node --openssl-legacy-provider -r CONF/s3rver-count-requests.cjs node_modules/s3rver/bin/s3rver.js -d CONF/s3rver -a 127.0.0.1 -p S3PORT -s`;
    commands['redis-server'] = `${REDIS_SERVER} --port REDISPORT --bind 127.0.0.1 --save '' --appendonly no --dir CONF/redis`;
  }

  /** One storm against `proc`, charged to `r`; S3 counts when `countS3`. */
  const storm = async (r: Row, proc: ManagedProcess, port: number, path: string, countS3: boolean): Promise<void> => {
    const load = { ...sc.load(port, sizes), path };
    if (countS3) await readCounts(s3Port); // zero the counters: the probe and earlier rows are not this run's
    const cpu = new CpuTracker(proc.pid);
    const s3Cpu = countS3 && s3 ? new CpuTracker(s3.pid) : undefined;
    const rss = startRssSampler(proc.pid, 200);
    const cpu0 = cpu.seconds();
    const s3Cpu0 = s3Cpu?.seconds() ?? 0;
    const busy0 = machineBusySeconds();
    try {
      const res = await runLoadClient(load, sc.timeoutMs(sizes));
      r.cpuSeconds += cpu.stop() - cpu0;
      r.busySeconds += machineBusySeconds() - busy0;
      r.runs.push(res);
      let up = '';
      if (countS3) {
        const c = await readCounts(s3Port);
        const s3CpuSeconds = (s3Cpu?.stop() ?? 0) - s3Cpu0;
        if (c) {
          r.upstream.push({ ...c, objectBytes, s3CpuSeconds });
          up = `; S3: ${c.gets} GET, ${c.heads} HEAD, ${(c.bodyBytes / objectBytes).toFixed(2)}× the object`;
        }
      }
      log(`  ${r.name} run ${r.runs.length}/${sizes.runs}: ${res.requests} ok, ${res.failures} failed, ${res.throughputMiBps.toFixed(1)} MiB/s, p50 ${res.latency.p50Ms.toFixed(0)} ms, p99 ${res.latency.p99Ms.toFixed(0)} ms${up}`);
      if (!proc.running) throw new Error(`${r.name} exited during the run: ${proc.stderr.trim().slice(-500)}`);
    } finally {
      cpu.stop();
      s3Cpu?.stop();
      r.peakRssMiB = Math.max(r.peakRssMiB, rss.stop());
    }
  };

  /** Starts `spec` fresh, runs `body`, stops it; an error ends only this row's run. */
  const withServer = async (names: ServerName[], spec: ServerSpec, port: number, body: (proc: ManagedProcess) => Promise<void>): Promise<void> => {
    let proc: ManagedProcess | undefined;
    try {
      proc = await startServer(spec, port, root, FILES.small);
      await sleep(300); // let the probe's session end
      await body(proc);
    } catch (e) {
      log(`  ${names.join(', ')}: ${(e as Error).message}`);
      for (const n of names) if (row(n).runs.length === 0) row(n).error = (e as Error).message;
    } finally {
      await proc?.stop(3000);
    }
  };

  try {
    for (let i = 0; i < sizes.runs; i++) {
      if (s3Wanted) {
        const cold = s3Rows.includes('tftpfn-s3-cold'), warm = s3Rows.includes('tftpfn-s3-warm'), fleet = s3Rows.includes('tftpfn-s3-fleet');
        // (1) and (2): Redis flushed, a fresh gateway; its first storm is cold, its second warm.
        if (cold || warm) {
          await redisCommand(redisPort, 'FLUSHALL');
          await withServer(['tftpfn-s3-cold', 'tftpfn-s3-warm'], gatewaySpec, opts.gatewayPort, async (gw) => {
            // Unmeasured when (1) is not selected, but it fills the cache (2) is about.
            if (cold) await storm(row('tftpfn-s3-cold'), gw, opts.gatewayPort, S3_PATH, true);
            else await runLoadClient({ ...sc.load(opts.gatewayPort, sizes), path: S3_PATH }, sc.timeoutMs(sizes));
            if (warm) await storm(row('tftpfn-s3-warm'), gw, opts.gatewayPort, S3_PATH, true);
          });
        }
        // (3): another gateway on the Redis the storm above filled.
        if (fleet) {
          if (!(cold || warm)) {
            await redisCommand(redisPort, 'FLUSHALL');
            await withServer(['tftpfn-s3-fleet'], gatewaySpec, opts.gatewayPort, async () => {
              await runLoadClient({ ...sc.load(opts.gatewayPort, sizes), count: 1, concurrency: 1, path: S3_PATH }, sc.timeoutMs(sizes));
            });
          }
          await withServer(['tftpfn-s3-fleet'], gatewaySpec, opts.gatewayPort, (gw) => storm(row('tftpfn-s3-fleet'), gw, opts.gatewayPort, S3_PATH, true));
        }
      }
      if (opts.selected('tftpfn')) {
        await withServer(['tftpfn'], opts.folderSpec, opts.folderPort, (p) => storm(row('tftpfn'), p, opts.folderPort, FILES.s3Boot, false));
      }
      if (opts.selected('in.tftpd') && !opts.tftpdSpec.unavailable) {
        await withServer(['in.tftpd'], opts.tftpdSpec, opts.tftpdPort, (p) => storm(row('in.tftpd'), p, opts.tftpdPort, FILES.s3Boot, false));
      }
    }
  } finally {
    await s3?.stop(2000);
    await redis?.stop(2000);
  }
  if (opts.tftpdSpec.unavailable && opts.selected('in.tftpd')) skipped.push(`(h) in.tftpd: ${opts.tftpdSpec.unavailable}`);
  const order: ServerName[] = ['tftpfn-s3-cold', 'tftpfn-s3-warm', 'tftpfn-s3-fleet', 'tftpfn', 'in.tftpd'];
  return {
    rows: order.filter((n) => rows.has(n)).map((n) => rows.get(n)!.result(n.startsWith('tftpfn-s3'))),
    commands,
    skipped,
    config: s3GatewayConfig('S3PORT', 'REDISPORT', 'ROOT'),
  };
}
