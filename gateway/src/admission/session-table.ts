/**
 * The table of sessions (and requests being admitted) by peer address|port, with the two
 * decisions that need it: is a request datagram a retransmission or a new request, and may a
 * request refused busy wait for a slot.
 *
 *  - Same bytes as the running entry's request, before its session sent its last packet: a
 *    duplicate. The client repeated its request before our first reply reached it; the session
 *    sends its first packet again (once per request datagram, and only before any ACK: the
 *    reflection bound of docs/RELIABILITY.md §1).
 *  - Same bytes after the session sent its last packet (final DATA of a read, final ACK of a
 *    write): the client's next transfer from a port it reused (issue 13: a client that ACKs
 *    its last block and at once asks again from the same port; the event loop may read the
 *    request before the ACK). It starts a new session at once; the old one is retired: on its
 *    own socket it finishes as it would have (its final ACK is still on the way), in
 *    single-port mode, where the peer's datagrams are routed by this table, it is superseded.
 *  - Different bytes from the same address and port (firmware that reuses a fixed source port
 *    after a reboot): the client has given up on the old transfer, so the old entry is
 *    superseded and ends silently, or it would keep answering the new request with the old
 *    file's blocks.
 *
 * Each entry holds an admission ticket (its slots and buffer reservation). releaseSlots() frees
 * the ticket as soon as the session's outcome is known; release() drops the entry, once, and
 * wakes stop() when no session is left.
 *
 * A request refused busy waits here for a slot (issue 13: a load from one address at
 * concurrency 40, below maxSessionsPerClient 64, was refused busy while sessions that had sent
 * their last block still held slots: their final ACKs were queued on their own sockets while
 * the listener read the clients' next requests). It is decided again when a slot frees and the
 * caps have room for it, and refused for good after DEFER_MAX_MS.
 */
import { performance } from 'node:perf_hooks';
import type { SessionDriver } from '../transport/session-driver.js';
import type { ServerCounters } from '../stats/counters.js';
import type { Admission, AdmissionTicket } from './admission.js';

export interface SessionEntry {
  readonly key: string;
  readonly peerAddress: string;
  /** The request datagram, to tell a retransmission (same bytes) from a new request. */
  readonly requestBytes: Buffer;
  driver: SessionDriver | undefined;
  /** Our last packet of the transfer is out (set by the accept step once the session runs). */
  lastBlockSent: () => boolean;
  /** Its peer's datagrams reach it on its own socket (per-session TID), not through this table. */
  ownSocket: boolean;
  /** A different request from the same peer address and port replaced this one. */
  superseded: boolean;
  released: boolean;
  /** Its slots at admission (sessions, per client, per prefix) and its buffer reservation. */
  readonly ticket: AdmissionTicket;
}

export const peerKey = (address: string, port: number): string => `${address}|${port}`;

const addressOfKey = (key: string): string => key.slice(0, key.lastIndexOf('|'));

/** Busy requests waiting for a slot at once; past this, refused at once. */
const MAX_DEFERRED = 1024;

/**
 * Longest wait of a busy request for a slot. Sessions that sent their last block free theirs as
 * soon as their final ACK is read, normally within one turn of the event loop; a client really
 * over its limit gets its ERROR this much later, well inside any client's retransmit timeout.
 */
export const DEFER_MAX_MS = 100;

interface Deferred {
  readonly address: string;
  readonly retry: () => void;
  readonly untilMs: number;
}

const never = (): boolean => false;

export class SessionTable {
  /** The entry answering each peer address|port. */
  private readonly entries = new Map<string, SessionEntry>();
  /** Every entry not yet released, including retired ones (no longer under their key). */
  private readonly live = new Set<SessionEntry>();
  /** Requests refused busy once, waiting for a slot, oldest first. */
  private readonly deferred = new Map<string, Deferred>();
  private wakeScheduled = false;
  private expiryTimer: NodeJS.Timeout | undefined;
  private drainWaiters: (() => void)[] = [];

  constructor(
    private readonly admission: Admission,
    private readonly counters: ServerCounters,
  ) {}

  /** Sessions not yet released (retired ones included). */
  get size(): number {
    return this.live.size;
  }

  get(key: string): SessionEntry | undefined {
    return this.entries.get(key);
  }

  has(key: string): boolean {
    return this.entries.has(key);
  }

  all(): SessionEntry[] {
    return [...this.live];
  }

  /**
   * A request datagram from `key`: 'duplicate' (counted; the running session repeats its first
   * packet) or 'new' (any older entry under the key has been retired or superseded).
   */
  arrive(key: string, requestBytes: Buffer): 'duplicate' | 'new' {
    if (this.deferred.has(key)) {
      // Its first copy is waiting for a slot.
      this.counters.duplicateRequests++;
      return 'duplicate';
    }
    const existing = this.entries.get(key);
    if (existing) {
      if (!existing.requestBytes.equals(requestBytes)) {
        this.supersede(existing);
      } else if (existing.lastBlockSent()) {
        this.retire(existing);
      } else {
        this.counters.duplicateRequests++;
        existing.driver?.repeatRequest();
        return 'duplicate';
      }
    }
    return 'new';
  }

  /**
   * Waits for a slot for a request refused busy: `retry` runs once, when the caps have room for
   * its address or after DEFER_MAX_MS (then it is refused). False when too many already wait:
   * the caller refuses at once.
   */
  defer(key: string, retry: () => void): boolean {
    if (this.deferred.size >= MAX_DEFERRED) return false;
    this.deferred.set(key, { address: addressOfKey(key), retry, untilMs: performance.now() + DEFER_MAX_MS });
    // The datagrams already received may free a slot (setImmediate runs after the poll phase).
    this.scheduleWake();
    this.scheduleExpiry();
    return true;
  }

  /** An admitted request's entry, holding its ticket until release(). */
  add(key: string, peerAddress: string, requestBytes: Buffer, ticket: AdmissionTicket): SessionEntry {
    const entry: SessionEntry = {
      key,
      peerAddress,
      requestBytes: Buffer.from(requestBytes),
      driver: undefined,
      lastBlockSent: never,
      ownSocket: false,
      superseded: false,
      released: false,
      ticket,
    };
    this.entries.set(key, entry);
    this.live.add(entry);
    return entry;
  }

  /** Ends a session replaced by a new request from its peer: nothing is sent to the peer. */
  supersede(entry: SessionEntry): void {
    entry.superseded = true;
    entry.driver?.cancel('superseded');
    this.release(entry);
  }

  /**
   * The peer's next transfer reuses this finished-sending session's address and port. On its own
   * socket the session goes on to its end (its final ACK arrives there), no longer under its key;
   * where the table routes the peer's datagrams (single-port mode) it is superseded.
   */
  private retire(entry: SessionEntry): void {
    if (!entry.ownSocket || entry.driver === undefined) {
      this.supersede(entry);
      return;
    }
    this.entries.delete(entry.key);
  }

  /** Frees an entry's slots and buffers as soon as its outcome is known; idempotent. */
  releaseSlots(entry: SessionEntry): void {
    if (entry.ticket.released) return;
    this.admission.release(entry.ticket);
    this.counters.bufferBytesReserved = this.admission.budget.reservedBytes;
    if (this.deferred.size > 0) this.scheduleWake();
  }

  /** Frees an entry's slots and drops it, once; a newer entry under the same key is left alone. */
  release(entry: SessionEntry): void {
    if (entry.released) return;
    entry.released = true;
    // Drop the links to the session: the tables' old hash tables still point at a released
    // entry until a full collection, and through these it would keep the whole session alive
    // and promoted (docs/PERFORMANCE.md, "Nepotism").
    entry.driver = undefined;
    entry.lastBlockSent = never;
    if (this.entries.get(entry.key) === entry) this.entries.delete(entry.key);
    this.live.delete(entry);
    this.releaseSlots(entry);
    if (this.live.size === 0 && this.drainWaiters.length > 0) {
      const waiters = this.drainWaiters;
      this.drainWaiters = [];
      for (const w of waiters) w();
    }
  }

  /** Resolves when every session is released, or after graceMs. */
  async drained(graceMs: number): Promise<void> {
    if (this.live.size === 0) return;
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, graceMs);
      this.drainWaiters.push(() => {
        clearTimeout(t);
        resolve();
      });
    });
  }

  /** Once per turn of the event loop at most: waiting requests whose caps now have room go on. */
  private scheduleWake(): void {
    if (this.wakeScheduled) return;
    this.wakeScheduled = true;
    setImmediate(this.wake);
  }

  private readonly wake = (): void => {
    this.wakeScheduled = false;
    for (const [key, d] of this.deferred) {
      if (this.entries.has(key)) {
        // Admitted meanwhile by another path: nothing to decide.
        this.deferred.delete(key);
        continue;
      }
      if (!this.admission.hasSlotFor(d.address)) continue;
      this.deferred.delete(key);
      d.retry();
    }
  };

  private scheduleExpiry(): void {
    if (this.expiryTimer !== undefined) return;
    const first = this.deferred.values().next();
    if (first.done) return;
    this.expiryTimer = setTimeout(this.expire, Math.max(0, first.value.untilMs - performance.now()) + 1);
    this.expiryTimer.unref();
  }

  /** Requests that waited DEFER_MAX_MS are decided for good (refused, unless a slot is free). */
  private readonly expire = (): void => {
    this.expiryTimer = undefined;
    const now = performance.now();
    for (const [key, d] of this.deferred) {
      if (d.untilMs > now) break;
      this.deferred.delete(key);
      if (!this.entries.has(key)) d.retry();
    }
    this.scheduleExpiry();
  };
}
