/**
 * `tftpfn tail`: follows the session stream RedisStatsSink writes, one line per record.
 *
 * Reads with XREAD BLOCK from the id after the last entry seen. "From now" is resolved once to
 * the newest id in the stream (not '$' on every call), so records added between two reads are
 * never skipped. Filters apply to the JSON record, so they see every field, not only the few
 * the stream entry carries at top level. XREAD and XREVRANGE name the one stream key, so the same
 * reads work on a Redis Cluster (ioredis sends them to the stream's node) and behind Sentinel.
 */
import { Command, InvalidArgumentError } from 'commander';
import { STATS_STREAM_KEY } from '../cache/keyspace.js';
import type { RedisClient } from '../redis/connection.js';
import { compileGlob, type Glob } from '../routing/glob.js';
import type { SessionRecord } from '../stats/session-record.js';
import { cidrContains, parseCidr, type Cidr } from '../transport/cidr.js';
import { integer } from './arg-parsers.js';
import { connectCliRedis, redisUrlOption } from './stats.js';

const BLOCK_MS = 1000;
const READ_COUNT = 500;

export interface TailFilter {
  peer?: Cidr;
  file?: Glob;
  outcome?: string[];
  function?: string;
  version?: string;
  gateway?: string;
}

interface TailFlags extends Omit<TailFilter, 'version'> {
  /** --fn-version: a subcommand's --version would be the root's (it prints tftpfn's version). */
  fnVersion?: string;
  redisUrl?: string;
  streamKey: string;
  json?: boolean;
  fromStart?: boolean;
  since?: number;
  count?: number;
}

export function tailCommand(): Command {
  return new Command('tail')
    .description('follow finished sessions live from the Redis stream, with filters')
    .addOption(redisUrlOption())
    .option('--stream-key <key>', 'the stream the gateways write ("statsStreamKey")', STATS_STREAM_KEY)
    .option('--peer <ip|cidr>', 'only clients in this address or network', parseArg(parseCidr))
    .option('--file <glob>', 'only files matching this glob (as routes match: no leading "/")', parseArg(compileGlob))
    .option('--outcome <list>', 'only these outcomes, comma separated (ok, not-found, timeout, ...)', (v: string) => v.split(',').map((s) => s.trim()).filter(Boolean))
    .option('--function <name>', 'only sessions served by this function ("-" for folders)')
    .option('--fn-version <v>', 'only sessions that started on this function version')
    .option('--gateway <id>', 'only sessions served by this gateway')
    .option('--json', 'print each record as one JSON line')
    .option('--from-start', 'start at the oldest record the stream holds')
    .option('--since <ms>', 'start with the records of the last MS milliseconds', integer(0, Number.MAX_SAFE_INTEGER))
    .option('--count <n>', 'exit after N matching records', integer(1, Number.MAX_SAFE_INTEGER))
    .addHelpText(
      'after',
      [
        '',
        'Examples:',
        '  tftpfn tail --redis-url redis://127.0.0.1:6379',
        '  tftpfn tail --outcome not-found,timeout --peer 10.0.0.0/8',
        "  tftpfn tail --file 'grub/**' --function grub --json | jq .durationMs",
        '  tftpfn tail --since 60000 --count 10',
      ].join('\n'),
    )
    .action(async (flags: TailFlags) => {
      process.exitCode = await runTail(flags);
    });
}

/** Turns a parser's Error into commander's usage error (the message names the fix). */
function parseArg<T>(parse: (raw: string) => T) {
  return (raw: string): T => {
    try {
      return parse(raw);
    } catch (e) {
      throw new InvalidArgumentError((e as Error).message);
    }
  };
}

export function matches(r: SessionRecord, f: TailFilter): boolean {
  if (f.peer && !cidrContains(f.peer, r.peer.address)) return false;
  if (f.file && !f.file.matches((r.fileNormalized ?? r.file).replace(/^\/+/, ''))) return false;
  if (f.outcome && !f.outcome.includes(r.outcome)) return false;
  if (f.function !== undefined && (r.function ?? '-') !== f.function) return false;
  if (f.version !== undefined && r.version !== f.version) return false;
  if (f.gateway !== undefined && r.gateway !== f.gateway) return false;
  return true;
}

// C0 controls, DEL, C1 controls (0x9b is a one-byte CSI), line/paragraph separators and bidi
// overrides: anything that can move the cursor, recolour or reorder a terminal line.
const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/**
 * A record's text made safe for a terminal: every field of a record can come from the network
 * (file names) or from whoever can write to Redis, and `tail` must not let them drive the
 * terminal. Control characters become \xHH or \uHHHH escapes; --json output is left exact.
 */
export function printable(value: unknown): string {
  return String(value).replace(UNPRINTABLE, (c) => {
    const code = c.charCodeAt(0);
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
  });
}

/** One line: time, gateway, peer, file, outcome, bytes, duration, function@version. */
export function formatRecord(r: SessionRecord): string {
  const peer = r.peer.family === 'IPv6' ? `[${r.peer.address}]:${r.peer.port}` : `${r.peer.address}:${r.peer.port}`;
  const fn = r.function ? `${r.function}@${r.version ?? '?'}` : '-';
  const duration = typeof r.durationMs === 'number' ? `${r.durationMs.toFixed(1)} ms` : `${r.durationMs} ms`;
  return [r.endedAt, r.gateway, peer, JSON.stringify(r.file), r.outcome, `${r.bytes} B`, duration, fn].map(printable).join('  ');
}

async function startId(client: RedisClient, key: string, flags: TailFlags): Promise<string> {
  if (flags.fromStart) return '0-0';
  // XREAD returns ids strictly after the one given: "ms-0" minus one sequence is "(ms-1)-max".
  if (flags.since !== undefined) return `${Math.max(0, Date.now() - flags.since - 1)}-18446744073709551615`;
  const last = (await client.xrevrange(key, '+', '-', 'COUNT', 1)) as [string, string[]][];
  return last.length > 0 ? last[0][0] : '0-0';
}

async function runTail(flags: TailFlags): Promise<number> {
  let client: RedisClient;
  try {
    client = await connectCliRedis('tail', flags.redisUrl, true);
  } catch (e) {
    console.error(plainRedisError((e as Error).message));
    return 2;
  }
  let stop = false;
  const onSigint = () => {
    stop = true;
  };
  process.once('SIGINT', onSigint);
  let shown = 0;
  let warned = false;
  try {
    let id: string;
    try {
      id = await startId(client, flags.streamKey, flags);
    } catch (e) {
      console.error(`tftpfn tail: cannot read the session stream ${flags.streamKey} from Redis (${plainRedisError((e as Error).message)}): check --redis-url and that Redis is up`);
      return 1;
    }
    while (!stop) {
      let reply: [string, [string, string[]][]][] | null;
      try {
        reply = (await client.call('XREAD', 'COUNT', READ_COUNT, 'BLOCK', BLOCK_MS, 'STREAMS', flags.streamKey, id)) as typeof reply;
        warned = false;
      } catch (e) {
        // Keep following through a Redis restart; say so once per outage.
        if (!warned) console.error(`tftpfn tail: Redis unreachable (${plainRedisError((e as Error).message)}); waiting for it to come back`);
        warned = true;
        await new Promise((r) => setTimeout(r, 500));
        continue;
      }
      for (const [, entries] of reply ?? []) {
        for (const [entryId, fields] of entries) {
          id = entryId;
          const json = fieldOf(fields, 'r');
          if (json === undefined) continue;
          let record: SessionRecord;
          try {
            record = JSON.parse(json) as SessionRecord;
          } catch {
            continue; // not ours: a stream shared with something else
          }
          if (!matches(record, { ...flags, version: flags.fnVersion })) continue;
          process.stdout.write((flags.json ? JSON.stringify(record) : formatRecord(record)) + '\n');
          if (flags.count !== undefined && ++shown >= flags.count) return 0;
        }
      }
    }
    return 0;
  } finally {
    process.removeListener('SIGINT', onSigint);
    client.disconnect();
  }
}

/**
 * An ioredis message without its internals: the retry schedule ("Retrying from scratch after
 * 1400ms.") and the wrapped "Last error" become one plain cause a user can act on.
 */
export function plainRedisError(message: string): string {
  return message
    .replace(/\s*Retrying from scratch after \d+ms\.?/g, '')
    .replace(/\s*Last error: Connection is closed\.?/g, '')
    .replace(/Connection is closed\.?/g, 'connection closed')
    .replace(/\s+/g, ' ')
    .trim();
}

/** A field of a stream entry ([name, value, name, value, ...]); a value is never taken for a name. */
function fieldOf(fields: string[], name: string): string | undefined {
  for (let i = 0; i + 1 < fields.length; i += 2) if (fields[i] === name) return fields[i + 1];
  return undefined;
}
