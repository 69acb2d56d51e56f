/**
 * What one batch of session records becomes in Redis, decided without Redis: the arguments of
 * one script call that appends every record to the stream, and the per-minute counters summed
 * in memory first, so a batch of 200 records on one minute costs a handful of HINCRBYs, not
 * 1 200. redis-sink.ts queues, sends and retries; this file only computes.
 *
 * Pure: the clock (only read for a record whose endedAt does not parse) is passed in.
 */
import type { statsKeys } from '../cache/keyspace.js';
import type { SessionRecord } from './session-record.js';

/** Outcomes that are not failures: a served file, and UEFI's tsize probe (README: not a failure). */
const NOT_ERRORS = new Set(['ok', 'option-probe']);

/**
 * KEYS[1] the stream; ARGV[1] its approximate MAXLEN; then five values per record: gateway,
 * outcome, function, file, JSON. XADD with '*' inside a script is fine since Redis 5 (effects
 * replication). The script touches KEYS[1] only, as a Redis Cluster requires of a script (every
 * key declared, all in one slot); the counters it is pipelined with share the stream's hash tag.
 */
export const XADD_BATCH_LUA = `
local n = 0
for i = 2, #ARGV, 5 do
  redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', 'gateway', ARGV[i], 'outcome', ARGV[i + 1], 'function', ARGV[i + 2], 'file', ARGV[i + 3], 'r', ARGV[i + 4])
  n = n + 1
end
return n
`;

/** Start of the record's minute in Unix seconds: the counter keys' time suffix. */
export function minuteEpoch(ms: number): number {
  return Math.floor(ms / 60_000) * 60;
}

/** The member a record counts under in the top-files set: the path as routed, else as sent. */
export function recordFile(r: SessionRecord): string {
  return r.fileNormalized ?? r.file;
}

/** key -> field (or member) -> how much to add. */
export type Increments = Map<string, Map<string, number>>;

export interface StatsBatch {
  /** ARGV of XADD_BATCH_LUA: the MAXLEN, then five values per record. */
  readonly streamArgs: (string | number)[];
  /** HINCRBY per key and field (a zero sum is still listed; the sender skips it). */
  readonly hashes: Increments;
  /** ZINCRBY per key and member. */
  readonly zsets: Increments;
  /** The latest record's end (ms), for the gateways hash. */
  readonly lastSeenMs: number;
}

export function buildStatsBatch(
  batch: readonly SessionRecord[],
  opts: { readonly gatewayId: string; readonly maxLen: number },
  keys: ReturnType<typeof statsKeys>,
  nowMs: () => number = Date.now,
): StatsBatch {
  const { gatewayId, maxLen } = opts;
  const hashes: Increments = new Map();
  const zsets: Increments = new Map();
  const add = (m: Increments, key: string, field: string, by: number) => {
    let h = m.get(key);
    if (!h) m.set(key, (h = new Map()));
    h.set(field, (h.get(field) ?? 0) + by);
  };
  let lastSeenMs = 0;
  // One script call appends the whole batch to the stream: one command (one reply, one
  // timer) per batch instead of per record, which is most of what stats cost the gateway.
  const streamArgs: (string | number)[] = [maxLen];
  for (const r of batch) {
    const fn = r.function ?? '-';
    const file = recordFile(r);
    streamArgs.push(r.gateway || gatewayId, r.outcome, fn, file, JSON.stringify(r));
    const endedMs = Date.parse(r.endedAt);
    const minute = minuteEpoch(Number.isFinite(endedMs) ? endedMs : nowMs());
    lastSeenMs = Math.max(lastSeenMs, Number.isFinite(endedMs) ? endedMs : nowMs());
    // Counters are per gateway of THIS sink: records carry it too, but the key must match the
    // gateways hash the live view reads.
    for (const key of [keys.gateway(gatewayId, minute), keys.fn(fn, minute)]) {
      add(hashes, key, 'sessions', 1);
      add(hashes, key, 'bytes', r.bytes);
      add(hashes, key, 'blocks', r.blocks);
      add(hashes, key, 'retransmits', r.retransmits);
      add(hashes, key, 'errors', NOT_ERRORS.has(r.outcome) ? 0 : 1);
      add(hashes, key, `outcome:${r.outcome}`, 1);
    }
    // Top sets count sessions, not bytes: "what is asked for most" (one big image would
    // otherwise hide every small config file that a fleet fetches at boot).
    add(zsets, keys.topFile(minute), file, 1);
    add(zsets, keys.topPeer(minute), r.peer.address, 1);
  }
  return { streamArgs, hashes, zsets, lastSeenMs };
}
