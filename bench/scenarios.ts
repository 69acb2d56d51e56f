/**
 * The benchmark scenarios (a)-(i): what load each puts on which server, sized for a full or a
 * --quick run.
 */
import type { LoadSpec } from './load-client.js';
import type { ServerName } from './servers.js';

export type ScenarioId = 'a' | 'b' | 'c' | 'd' | 'e' | 'f' | 'g' | 'h' | 'i' | 'j';
/** Report order: (j), windowsize 16, came later than the letters but belongs beside (b). */
export const SCENARIO_IDS: readonly ScenarioId[] = ['a', 'j', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i'];

export interface Sizes {
  bigBytes: number;
  bootBytes: number;
  stormClients: number;
  smallDurationS: number;
  memorySessions: number;
  runs: number;
  /** (h): the one object of the S3 boot storm (absent in runs stored before (h) existed). */
  s3ObjectBytes?: number;
}

export function sizesFor(quick: boolean, runs?: number): Sizes {
  return quick
    ? { bigBytes: 8 << 20, bootBytes: 1 << 20, stormClients: 100, smallDurationS: 3, memorySessions: 200, runs: runs ?? 1, s3ObjectBytes: 4 << 20 }
    : { bigBytes: 64 << 20, bootBytes: 4 << 20, stormClients: 500, smallDurationS: 10, memorySessions: 1000, runs: runs ?? 3, s3ObjectBytes: 20 << 20 };
}

/** `generated`: the bytes bench/functions/one-kib.ts answers with, for the folder side of (g). */
export const FILES = { big: 'big.bin', boot: 'boot.bin', small: 'small.bin', held: 'held.bin', generated: 'one-kib.bin', s3Boot: 'vmlinuz-20m.bin' } as const;
/** (h): the object is `S3_KEY` in bucket `S3_BUCKET`; the gateway's route maps `boot/KEY` to it. */
export const S3_BUCKET = 'boot';
export const S3_KEY = FILES.s3Boot;
export const S3_PATH = `boot/${S3_KEY}`;
export const SMALL_BYTES = 1024;
/** Several blocks, so a session held after block 1 is mid-transfer, yet quick to finish after. */
export const HELD_BYTES = 64 << 10;

export interface Scenario {
  id: ScenarioId;
  title: string;
  servers: ServerName[];
  load(port: number, s: Sizes): LoadSpec;
  runs(server: ServerName, s: Sizes): number;
  /** Hard limit for one load-client run. */
  timeoutMs(s: Sizes): number;
  /**
   * An unmeasured run first, for every server alike: a server that runs for days is warm
   * (JIT-compiled, page cache filled), and the first transfer after start-up is not what a
   * boot fleet sees.
   */
  warmup?(port: number, s: Sizes): LoadSpec;
  /**
   * Run the servers' runs in turns rather than one server after another (measure.ts,
   * measureInterleaved): for a scenario whose target is a ratio between two rows.
   */
  interleave?: boolean;
  /** Measured by its own runner (s3-storm.ts), not one server after another. */
  custom?: boolean;
  /** Needs a redis-server of its own (stats-cost.ts starts it and writes the servers' configs). */
  redis?: boolean;
}

/**
 * tftpfn-plain is tftpfn with UDP GSO off (sendPath: plain): issue 13's forced-fallback row.
 * tftpfn-base runs only with --baseline DIR (another checkout's build), to judge that row against.
 */
const ALL: ServerName[] = ['tftpfn', 'tftpfn-plain', 'tftpfn-base', 'in.tftpd', 'atftpd', 'npm-tftp', 'fbtftp', 'node-floor'];
/** The servers that implement RFC 7440 windowsize; the others show "—" in (j) and (b). */
export const WINDOWED: ServerName[] = ['tftpfn', 'tftpfn-plain', 'tftpfn-base', 'atftpd', 'npm-tftp', 'node-floor'];
/*
 * (a)-(e) interleave their servers (measure.ts, measureInterleaved): each target is a ratio
 * between rows, and on this shared machine the load moves within a scenario. In a run measured
 * one server after another (aborted, not stored), tftpfn's first two storms ran at 99-101 MiB/s
 * and its third at 35 as the load average rose from 8 to 15, and every server measured after it
 * met the busier machine.
 */
/** The peers tftpfn is judged against (issue 13): the C servers and the node one. */
export const PEERS: ServerName[] = ['in.tftpd', 'atftpd', 'npm-tftp'];

export function scenarios(): Scenario[] {
  return [
    {
      id: 'a',
      title: 'one large file, blksize 1468, lock-step',
      servers: ALL,
      load: (port) => ({ port, path: FILES.big, concurrency: 1, count: 1, blksize: 1468 }),
      warmup: (port) => ({ port, path: FILES.big, concurrency: 1, count: 1, blksize: 1468 }),
      interleave: true,
      runs: (_, s) => s.runs,
      timeoutMs: () => 300_000,
    },
    {
      id: 'j',
      title: 'one large file, blksize 1468, windowsize 16',
      servers: WINDOWED,
      load: (port) => ({ port, path: FILES.big, concurrency: 1, count: 1, blksize: 1468, windowsize: 16 }),
      warmup: (port) => ({ port, path: FILES.big, concurrency: 1, count: 1, blksize: 1468, windowsize: 16 }),
      interleave: true,
      runs: (_, s) => s.runs,
      timeoutMs: () => 300_000,
    },
    {
      id: 'b',
      title: 'one large file, blksize 1468, windowsize 64',
      servers: WINDOWED,
      load: (port) => ({ port, path: FILES.big, concurrency: 1, count: 1, blksize: 1468, windowsize: 64 }),
      warmup: (port) => ({ port, path: FILES.big, concurrency: 1, count: 1, blksize: 1468, windowsize: 64 }),
      interleave: true,
      runs: (_, s) => s.runs,
      timeoutMs: () => 300_000,
    },
    {
      id: 'c',
      title: 'one large file, blksize 65464, lock-step',
      servers: ALL,
      load: (port) => ({ port, path: FILES.big, concurrency: 1, count: 1, blksize: 65464 }),
      warmup: (port) => ({ port, path: FILES.big, concurrency: 1, count: 1, blksize: 65464 }),
      interleave: true,
      runs: (_, s) => s.runs,
      timeoutMs: () => 120_000,
    },
    {
      id: 'd',
      title: 'boot storm: every client at once, blksize 1468, lock-step',
      servers: ['tftpfn', 'tftpfn-p2', 'tftpfn-plain', 'tftpfn-base', 'in.tftpd', 'atftpd', 'npm-tftp', 'fbtftp', 'node-floor'],
      load: (port, s) => ({ port, path: FILES.boot, concurrency: s.stormClients, count: s.stormClients, blksize: 1468, timeoutMs: 2000 }),
      // fbtftp forks a Python process per client; one storm is enough to place it.
      interleave: true,
      runs: (server, s) => (server === 'fbtftp' ? 1 : s.runs),
      timeoutMs: () => 600_000,
    },
    {
      id: 'e',
      title: '1 KiB file, 20 concurrent requesters',
      servers: ALL,
      load: (port, s) => ({ port, path: FILES.small, concurrency: 20, durationS: s.smallDurationS }),
      warmup: (port, s) => ({ port, path: FILES.small, concurrency: 20, durationS: Math.min(2, s.smallDurationS) }),
      interleave: true,
      runs: (_, s) => s.runs,
      timeoutMs: (s) => s.smallDurationS * 1000 + 60_000,
    },
    {
      id: 'f',
      title: 'memory: idle, and with many sessions held open mid-transfer',
      servers: ['tftpfn'],
      // Each client takes block 1 and then waits; RFC 2349 timeout=30 asks the server not to
      // resend meanwhile, so the sessions stay open and quiet while RSS is sampled.
      load: (port, s) => ({ port, path: FILES.held, concurrency: s.memorySessions, count: s.memorySessions, blksize: 1468, holdMs: 6000, requestTimeoutS: 30, timeoutMs: 3000 }),
      runs: () => 1,
      timeoutMs: () => 180_000,
    },
    {
      id: 'g',
      title: '1 KiB generated by a function in a worker vs the same 1 KiB from the folder, 20 concurrent requesters',
      // The load of (e), so the folder row here and in (e) measure the same thing. The worker
      // servers route every path to bench/functions/one-kib.ts, which answers with the bytes the
      // folder server reads from one-kib.bin: the difference is the per-invocation overhead.
      servers: ['tftpfn', 'tftpfn-fn2', 'tftpfn-fn1', 'tftpfn-fn4'],
      interleave: true,
      load: (port, s) => ({ port, path: FILES.generated, concurrency: 20, durationS: s.smallDurationS }),
      warmup: (port, s) => ({ port, path: FILES.generated, concurrency: 20, durationS: Math.min(2, s.smallDurationS) }),
      runs: (_, s) => s.runs,
      timeoutMs: (s) => s.smallDurationS * 1000 + 60_000,
    },
    {
      id: 'h',
      title: 'boot storm from S3: every client at once on one object, from s3rver through the shared cache, against the folder and in.tftpd',
      // The rows and their order are s3-storm.ts's; `servers` lists what --servers can select.
      // The load is (d)'s, on the larger object; the S3 rows ask for S3_PATH instead.
      servers: ['tftpfn-s3-cold', 'tftpfn-s3-warm', 'tftpfn-s3-fleet', 'tftpfn', 'in.tftpd'],
      custom: true,
      load: (port, s) => ({ port, path: FILES.s3Boot, concurrency: s.stormClients, count: s.stormClients, blksize: 1468, timeoutMs: 2000 }),
      runs: (_, s) => s.runs,
      timeoutMs: () => 900_000,
    },
      {
      id: 'i',
      title: 'session stats to Redis on vs off: 1 KiB file, 20 concurrent requesters',
      // The load of (e) against three fresh servers taking turns as in (g): stats off (no Redis),
      // every session record XADDed to a real redis-server (statsToRedis), and that plus
      // Prometheus metrics (metricsPort). stats-cost.ts checks the stream afterwards.
      servers: ['tftpfn', 'tftpfn-stats', 'tftpfn-stats-metrics'],
      interleave: true,
      redis: true,
      load: (port, s) => ({ port, path: FILES.small, concurrency: 20, durationS: s.smallDurationS }),
      warmup: (port, s) => ({ port, path: FILES.small, concurrency: 20, durationS: Math.min(2, s.smallDurationS) }),
      runs: (_, s) => s.runs,
      timeoutMs: (s) => s.smallDurationS * 1000 + 60_000,
    },
  ];
}
