/**
 * Admission of new requests (issue 9 §2): who may start a session now, before any file is
 * opened or any byte is sent. Pure bookkeeping: the gateway passes `nowMs` and does the I/O.
 *
 * Checks, cheapest and most specific first, so one flooding address drains its own bucket
 * before it can touch its network's or everyone's:
 *   1. rate (token buckets): per client address, per prefix, global  -> 'rate-limited'
 *   2. concurrent sessions: global (maxSessions), per address, per prefix  -> 'busy'
 *   3. later, once options are negotiated: the buffer budget (reserveBuffers)  -> 'busy'
 * A request that passes holds a ticket until the gateway releases it, once.
 *
 * Rate limits skip `rateLimitExempt` (loopback by default: a datagram with a loopback source
 * arriving on any other interface is dropped by the kernel as a martian, so only local
 * processes, such as the benchmarks and tests, send from there).
 */
import { cidrContains, parseCidr, type Cidr } from '../transport/cidr.js';
import { BufferBudget } from './buffer-budget.js';
import { KeyedBuckets } from './keyed-buckets.js';
import { prefixOf } from './prefix.js';
import { TokenBucket, type TokenBucketConfig } from './token-bucket.js';

export type RefusalReason = 'busy' | 'rate-limited' | 'client-denied';

/** Which rule refused a request; each belongs to one reason. */
export type RefusalLimit =
  | 'sessions'
  | 'client'
  | 'prefix'
  /** The budget could not cover the session's first window. */
  | 'buffers'
  /** The session's window opened (its peer proved itself) beyond what the budget could cover. */
  | 'window-buffers'
  | 'client-rate'
  | 'prefix-rate'
  | 'global-rate'
  | 'deny-list';

export const REASON_OF_LIMIT: Readonly<Record<RefusalLimit, RefusalReason>> = {
  sessions: 'busy',
  client: 'busy',
  prefix: 'busy',
  buffers: 'busy',
  'window-buffers': 'busy',
  'client-rate': 'rate-limited',
  'prefix-rate': 'rate-limited',
  'global-rate': 'rate-limited',
  'deny-list': 'client-denied',
};

export interface AdmissionConfig {
  readonly maxSessions: number;
  readonly maxSessionsPerClient: number;
  readonly maxSessionsPerPrefix: number;
  readonly prefixLengthV4: number;
  readonly prefixLengthV6: number;
  readonly maxBufferBytes: number;
  /** New requests per second per client address; 0 turns the limit off. */
  readonly rateLimitPerClient: number;
  readonly rateLimitPerClientBurst: number;
  readonly rateLimitPerPrefix: number;
  readonly rateLimitPerPrefixBurst: number;
  readonly rateLimitGlobal: number;
  readonly rateLimitGlobalBurst: number;
  readonly rateLimitExempt: readonly string[];
}

/** Distinct addresses (and prefixes) whose buckets are remembered; spoofers cannot grow it. */
const MAX_TRACKED_KEYS = 65_536;

/**
 * Addresses whose prefix and exemption are remembered: parsing an address costs a few µs (BigInt
 * arithmetic), ~10% of a small transfer's CPU at 13,000 requests/s. Emptied when full, so a
 * flood of random addresses costs what it did without the cache.
 */
const MAX_CACHED_ADDRESSES = 8192;

interface AddressFacts {
  readonly prefix: string;
  readonly exempt: boolean;
}

export interface AdmissionTicket {
  readonly address: string;
  readonly prefix: string;
  /** Bytes reserved from the buffer budget (0 until reserveBuffers). */
  bufferBytes: number;
  released: boolean;
}

export type Verdict =
  | { admitted: true; ticket: AdmissionTicket }
  | { admitted: false; limit: RefusalLimit; reason: RefusalReason; prefix: string };

export class Admission {
  readonly budget: BufferBudget;
  private sessions = 0;
  private readonly perClient = new Map<string, number>();
  private readonly perPrefix = new Map<string, number>();
  private readonly clientRate: KeyedBuckets | undefined;
  private readonly prefixRate: KeyedBuckets | undefined;
  private readonly globalRate: TokenBucket | undefined;
  private readonly exempt: Cidr[];
  private readonly facts = new Map<string, AddressFacts>();

  constructor(private readonly config: AdmissionConfig, nowMs: number) {
    this.budget = new BufferBudget(config.maxBufferBytes);
    const bucket = (ratePerSecond: number, burst: number): TokenBucketConfig | undefined =>
      ratePerSecond > 0 ? { ratePerSecond, burst: Math.max(1, burst) } : undefined;
    const client = bucket(config.rateLimitPerClient, config.rateLimitPerClientBurst);
    const prefix = bucket(config.rateLimitPerPrefix, config.rateLimitPerPrefixBurst);
    const global = bucket(config.rateLimitGlobal, config.rateLimitGlobalBurst);
    this.clientRate = client && new KeyedBuckets(client, MAX_TRACKED_KEYS);
    this.prefixRate = prefix && new KeyedBuckets(prefix, MAX_TRACKED_KEYS);
    this.globalRate = global && new TokenBucket(global, nowMs);
    this.exempt = config.rateLimitExempt.map(parseCidr);
  }

  /** Sessions admitted and not yet released. */
  get activeSessions(): number {
    return this.sessions;
  }

  sessionsOfClient(address: string): number {
    return this.perClient.get(address) ?? 0;
  }

  sessionsOfPrefix(prefix: string): number {
    return this.perPrefix.get(prefix) ?? 0;
  }

  /** The prefix `address` is counted under (the address itself when it does not parse). */
  prefixOf(address: string): string {
    return this.factsOf(address).prefix;
  }

  private factsOf(address: string): AddressFacts {
    let f = this.facts.get(address);
    if (f) return f;
    if (this.facts.size >= MAX_CACHED_ADDRESSES) this.facts.clear();
    f = {
      prefix: prefixOf(address, { v4: this.config.prefixLengthV4, v6: this.config.prefixLengthV6 }) ?? address,
      exempt: this.exempt.length > 0 && this.exempt.some((c) => cidrContains(c, address)),
    };
    this.facts.set(address, f);
    return f;
  }

  /**
   * Decides on a new request from `address`; an admitted one holds a ticket until release().
   * `rateChecked`: the request already passed (and paid) the rate limits, and is looked at again
   * for the session limits only.
   */
  admit(address: string, nowMs: number, opts: { rateChecked?: boolean } = {}): Verdict {
    const { prefix, exempt } = this.factsOf(address);
    const refused = (limit: RefusalLimit): Verdict => ({ admitted: false, limit, reason: REASON_OF_LIMIT[limit], prefix });
    if (!opts.rateChecked && !exempt && (this.clientRate || this.prefixRate || this.globalRate)) {
      if (this.clientRate && !this.clientRate.take(address, nowMs)) return refused('client-rate');
      if (this.prefixRate && !this.prefixRate.take(prefix, nowMs)) return refused('prefix-rate');
      if (this.globalRate && !this.globalRate.take(nowMs)) return refused('global-rate');
    }
    if (this.sessions >= this.config.maxSessions) return refused('sessions');
    const ofClient = this.perClient.get(address) ?? 0;
    if (ofClient >= this.config.maxSessionsPerClient) return refused('client');
    const ofPrefix = this.perPrefix.get(prefix) ?? 0;
    if (ofPrefix >= this.config.maxSessionsPerPrefix) return refused('prefix');
    this.sessions++;
    this.perClient.set(address, ofClient + 1);
    this.perPrefix.set(prefix, ofPrefix + 1);
    return { admitted: true, ticket: { address, prefix, bufferBytes: 0, released: false } };
  }

  /**
   * Whether the session caps would admit a request from `address` now (rates not checked,
   * nothing taken): a request refused busy waits for this (admission/session-table.ts).
   */
  hasSlotFor(address: string): boolean {
    if (this.sessions >= this.config.maxSessions) return false;
    if ((this.perClient.get(address) ?? 0) >= this.config.maxSessionsPerClient) return false;
    return (this.perPrefix.get(this.factsOf(address).prefix) ?? 0) < this.config.maxSessionsPerPrefix;
  }

  /** Reserves a session's buffers (once its window is negotiated); false when the budget is spent. */
  reserveBuffers(ticket: AdmissionTicket, bytes: number): boolean {
    if (ticket.released) return false;
    if (!this.budget.tryReserve(bytes)) return false;
    ticket.bufferBytes += bytes;
    return true;
  }

  /** Frees the ticket's session slots and buffer bytes; a second call does nothing. */
  release(ticket: AdmissionTicket): void {
    if (ticket.released) return;
    ticket.released = true;
    this.sessions--;
    decrement(this.perClient, ticket.address);
    decrement(this.perPrefix, ticket.prefix);
    if (ticket.bufferBytes > 0) this.budget.release(ticket.bufferBytes);
    ticket.bufferBytes = 0;
  }

}

function decrement(map: Map<string, number>, key: string): void {
  const n = (map.get(key) ?? 1) - 1;
  if (n <= 0) map.delete(key);
  else map.set(key, n);
}
