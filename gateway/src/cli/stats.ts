/**
 * `tftpfn stats`: a live view of the fleet from the counters RedisStatsSink writes (see
 * docs/STATS.md for the key schema).
 *
 * The window is the last N whole minutes plus the current, partial one, and rates divide by
 * exactly that span, so a view at hh:mm:05 is not a rate over five seconds. Top files and
 * clients merge each minute's top TOP_PER_MINUTE; with more distinct members than that in a
 * minute the merged ranking is approximate (counts of the members shown are exact per minute).
 */
import { Command, Option } from 'commander';
import { REDIS_KEY_PREFIX, STATS_STREAM_KEY, statsKeys } from '../cache/keyspace.js';
import { connectRedis, redactRedisUrl, whenRedisReady, type RedisClient } from '../redis/connection.js';
import { parseRedisUrl, REDIS_URL_FORMS } from '../redis/redis-spec.js';
import { scanKeys } from '../redis/scan-keys.js';
import { minuteEpoch } from '../stats/redis-sink.js';
import { integer } from './arg-parsers.js';

const MiB = 1024 * 1024;
const TOP_PER_MINUTE = 200;
const TOP_SHOWN = 10;
const CONNECT_WAIT_MS = 5000;

export interface Totals {
  sessions: number;
  bytes: number;
  blocks: number;
  retransmits: number;
  errors: number;
  /** Sessions by outcome, e.g. { ok: 98, 'not-found': 2 }. */
  outcomes: Record<string, number>;
  sessionsPerSec: number;
  mibPerSec: number;
}

export interface StatsView {
  at: string;
  /** Start of each minute read, Unix seconds (the counter keys' suffix). */
  minutes: number[];
  windowSeconds: number;
  gateways: Record<string, Totals & { lastSeenMs: number | null }>;
  functions: Record<string, Totals>;
  topFiles: { file: string; sessions: number }[];
  topPeers: { peer: string; sessions: number }[];
}

interface StatsFlags {
  redisUrl?: string;
  interval: number;
  minutes: number;
  once?: boolean;
  json?: boolean;
  keyPrefix: string;
  streamKey: string;
}

export function redisUrlOption(): Option {
  return new Option('--redis-url <url>', `Redis, ${REDIS_URL_FORMS} (the gateway's "redisUrl")`).env('TFTPFN_REDIS_URL');
}

export function statsCommand(): Command {
  return new Command('stats')
    .description('live view of the fleet from Redis: per gateway and per function, sessions/s, MiB/s, errors by outcome, top files and clients')
    .addOption(redisUrlOption())
    .option('--interval <seconds>', 'refresh every this many seconds', integer(1, 3600), 2)
    .option('--minutes <n>', 'window: the last N whole minutes plus the current one', integer(1, 1440), 1)
    .option('--once', 'print once and exit')
    .option('--json', 'print the aggregated object as JSON')
    .option('--key-prefix <prefix>', 'counter key prefix the gateways use', REDIS_KEY_PREFIX)
    .option('--stream-key <key>', 'the stream the gateways write ("statsStreamKey"): the counters share its hash tag', STATS_STREAM_KEY)
    .addHelpText('after', '\nExamples:\n  tftpfn stats --redis-url redis://127.0.0.1:6379\n  tftpfn stats --minutes 15 --once --json | jq .gateways')
    .action(async (flags: StatsFlags) => {
      process.exitCode = await runStats(flags);
    });
}

/** Connects a one-purpose client (any topology); throws a message that says what to check. */
export async function connectCliRedis(verb: string, url: string | undefined, reconnect: boolean): Promise<RedisClient> {
  if (!url) throw new Error(`tftpfn ${verb}: no Redis given: pass --redis-url redis://HOST:PORT or set TFTPFN_REDIS_URL`);
  let spec;
  try {
    spec = parseRedisUrl(url);
  } catch (e) {
    throw new Error(`tftpfn ${verb}: --redis-url "${redactRedisUrl(url)}": ${(e as Error).message}`);
  }
  const client = connectRedis(spec, {
    lazyConnect: true,
    // A live view outlives a Redis restart; a one-shot command says at once that it cannot connect.
    retryStrategy: reconnect ? (n: number) => Math.min(n * 200, 2000) : () => null,
    connectTimeoutMs: CONNECT_WAIT_MS,
  });
  // Without a listener ioredis prints every failed attempt; keep the cause for our own message.
  let cause: Error | undefined;
  client.on('error', (err: Error) => void (cause = err));
  // Bounded: behind Sentinel, connect() keeps asking unreachable Sentinels instead of failing.
  const connecting = client.connect();
  connecting.catch(() => undefined);
  let timer: NodeJS.Timeout | undefined;
  const bound = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no connection within ${CONNECT_WAIT_MS} ms`)), CONNECT_WAIT_MS);
  });
  try {
    await Promise.race([connecting, bound]);
    // A Cluster: every master's connection open before the first commands (redis/connection.ts).
    await whenRedisReady(client, CONNECT_WAIT_MS);
  } catch (e) {
    client.disconnect();
    throw new Error(
      `tftpfn ${verb}: cannot reach Redis at ${redactRedisUrl(url)} (${(cause ?? (e as Error)).message}): is redis-server running there? Check --redis-url or TFTPFN_REDIS_URL`,
    );
  } finally {
    clearTimeout(timer);
  }
  return client;
}

async function runStats(flags: StatsFlags): Promise<number> {
  let client: RedisClient;
  try {
    client = await connectCliRedis('stats', flags.redisUrl, !flags.once);
  } catch (e) {
    console.error((e as Error).message);
    return 2;
  }
  const live = !flags.once;
  let stop = false;
  const onSigint = () => {
    stop = true;
  };
  process.once('SIGINT', onSigint);
  try {
    for (;;) {
      let out: string;
      try {
        const view = await collectStats(client, { keyPrefix: flags.keyPrefix, streamKey: flags.streamKey, minutes: flags.minutes, nowMs: Date.now() });
        out = flags.json ? JSON.stringify(view, null, live ? 0 : 2) : renderStats(view);
      } catch (e) {
        if (!live) {
          console.error(`tftpfn stats: reading from Redis failed: ${(e as Error).message}`);
          return 1;
        }
        out = `tftpfn stats: Redis unreachable (${(e as Error).message}); retrying every ${flags.interval} s`;
      }
      // On a terminal, redraw in place; into a pipe, one view after another.
      if (live && process.stdout.isTTY && !flags.json) process.stdout.write('\x1b[2J\x1b[H');
      process.stdout.write(out + '\n');
      if (!live) return 0;
      const until = Date.now() + flags.interval * 1000;
      while (!stop && Date.now() < until) await new Promise((r) => setTimeout(r, 100));
      if (stop) return 0;
    }
  } finally {
    process.removeListener('SIGINT', onSigint);
    client.disconnect();
  }
}

function emptyTotals(): Totals {
  return { sessions: 0, bytes: 0, blocks: 0, retransmits: 0, errors: 0, outcomes: {}, sessionsPerSec: 0, mibPerSec: 0 };
}

function addHash(t: Totals, hash: Record<string, string>): void {
  for (const [field, raw] of Object.entries(hash)) {
    const n = Number(raw);
    if (!Number.isFinite(n)) continue;
    if (field.startsWith('outcome:')) {
      const o = field.slice('outcome:'.length);
      t.outcomes[o] = (t.outcomes[o] ?? 0) + n;
    } else if (field === 'sessions' || field === 'bytes' || field === 'blocks' || field === 'retransmits' || field === 'errors') {
      t[field] += n;
    }
  }
}

function withRates(t: Totals, seconds: number): Totals {
  t.sessionsPerSec = round(t.sessions / seconds, 3);
  t.mibPerSec = round(t.bytes / MiB / seconds, 3);
  return t;
}

/** Reads the window's counters, top sets and the gateways hash into one object. */
export async function collectStats(
  client: RedisClient,
  opts: { keyPrefix: string; streamKey?: string; minutes: number; nowMs: number },
): Promise<StatsView> {
  const keys = statsKeys(opts.keyPrefix, opts.streamKey);
  const current = minuteEpoch(opts.nowMs);
  const minutes: number[] = [];
  for (let i = opts.minutes; i >= 0; i--) minutes.push(current - i * 60);
  // Whole minutes before the current one, plus what has passed of it (at least a second).
  const windowSeconds = opts.minutes * 60 + Math.max(1, (opts.nowMs - current * 1000) / 1000);

  const lastSeen = await client.hgetall(keys.gateways);
  const gatewayIds = new Set(Object.keys(lastSeen));
  const fnNames = new Set<string>();
  for (const m of minutes) {
    // Functions have no registry: find the minute's hashes by pattern (a CLI, not a hot path;
    // on a Cluster every master is scanned). The key's own text is matched literally.
    const [head, tail] = keys.fn('\0', m).split('\0');
    for (const k of await scanKeys(client, `${globEscape(head)}*${globEscape(tail)}`)) fnNames.add(k.slice(head.length, k.length - tail.length));
  }

  const pipe = client.pipeline();
  const gwList = [...gatewayIds].sort();
  const fnList = [...fnNames].sort();
  for (const g of gwList) for (const m of minutes) pipe.hgetall(keys.gateway(g, m));
  for (const f of fnList) for (const m of minutes) pipe.hgetall(keys.fn(f, m));
  for (const m of minutes) pipe.zrevrange(keys.topFile(m), 0, TOP_PER_MINUTE - 1, 'WITHSCORES');
  for (const m of minutes) pipe.zrevrange(keys.topPeer(m), 0, TOP_PER_MINUTE - 1, 'WITHSCORES');
  const results = (await pipe.exec()) ?? [];
  let at = 0;
  const next = <T>(): T => {
    const [err, value] = results[at++];
    if (err) throw err;
    return value as T;
  };

  const gateways: StatsView['gateways'] = {};
  for (const g of gwList) {
    const t = emptyTotals();
    for (let i = 0; i < minutes.length; i++) addHash(t, next<Record<string, string>>());
    const seen = Number(lastSeen[g]);
    gateways[g] = { ...withRates(t, windowSeconds), lastSeenMs: Number.isFinite(seen) ? seen : null };
  }
  const functions: StatsView['functions'] = {};
  for (const f of fnList) {
    const t = emptyTotals();
    for (let i = 0; i < minutes.length; i++) addHash(t, next<Record<string, string>>());
    if (t.sessions > 0) functions[f] = withRates(t, windowSeconds);
  }
  const merge = (): [string, number][] => {
    const sum = new Map<string, number>();
    for (let i = 0; i < minutes.length; i++) {
      const flat = next<string[]>();
      for (let j = 0; j < flat.length; j += 2) sum.set(flat[j], (sum.get(flat[j]) ?? 0) + Number(flat[j + 1]));
    }
    return [...sum].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, TOP_SHOWN);
  };
  const topFiles = merge().map(([file, sessions]) => ({ file, sessions }));
  const topPeers = merge().map(([peer, sessions]) => ({ peer, sessions }));
  return { at: new Date(opts.nowMs).toISOString(), minutes, windowSeconds: round(windowSeconds, 3), gateways, functions, topFiles, topPeers };
}

/** The view as text tables. */
export function renderStats(v: StatsView): string {
  const lines: string[] = [];
  lines.push(`tftpfn stats  ${v.at}  window ${Math.round(v.windowSeconds)} s`);
  lines.push('');
  const header = ['sessions/s', 'MiB/s', 'sessions', 'errors', 'outcomes'];
  const row = (t: Totals) => [t.sessionsPerSec.toFixed(2), t.mibPerSec.toFixed(2), String(t.sessions), String(t.errors), outcomeText(t.outcomes)];
  lines.push(
    ...table(
      ['gateway', 'last seen', ...header],
      Object.entries(v.gateways).map(([g, t]) => [g, t.lastSeenMs === null ? '-' : ago(Date.parse(v.at) - t.lastSeenMs), ...row(t)]),
    ),
  );
  lines.push('');
  lines.push(...table(['function', ...header], Object.entries(v.functions).map(([f, t]) => [f === '-' ? '- (folders)' : f, ...row(t)])));
  lines.push('');
  lines.push(...table(['top files', 'sessions'], v.topFiles.map((x) => [x.file, String(x.sessions)])));
  lines.push('');
  lines.push(...table(['top clients', 'sessions'], v.topPeers.map((x) => [x.peer, String(x.sessions)])));
  return lines.join('\n');
}

function outcomeText(o: Record<string, number>): string {
  return Object.entries(o)
    .sort((a, b) => b[1] - a[1])
    .map(([k, n]) => `${k}=${n}`)
    .join(' ');
}

function ago(ms: number): string {
  if (ms < 0) ms = 0;
  if (ms < 60_000) return `${Math.round(ms / 1000)} s ago`;
  if (ms < 3_600_000) return `${Math.round(ms / 60_000)} min ago`;
  return `${Math.round(ms / 3_600_000)} h ago`;
}

function table(head: string[], rows: string[][]): string[] {
  if (rows.length === 0) return [`${head[0]}: none in the window`];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const fmt = (r: string[]) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]))).join('  ').trimEnd();
  return [fmt(head), ...rows.map(fmt)];
}

/** `text` as a SCAN MATCH pattern that matches only itself: the glob characters escaped. */
function globEscape(text: string): string {
  return text.replace(/[*?[\]\\]/g, (c) => `\\${c}`);
}

function round(n: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}
