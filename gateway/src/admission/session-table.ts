/**
 * The table of sessions (and requests being admitted) by peer address|port, with the two
 * decisions that need it: is a request datagram a retransmission or a new request, and may a
 * request refused busy wait one turn of the event loop for a slot.
 *
 *  - Same bytes as the running entry's request: a duplicate. The client repeated its request
 *    before our first reply reached it; the session sends its first packet again (once per
 *    request datagram, and only before any ACK).
 *  - Different bytes from the same address and port (firmware that reuses a fixed source port
 *    after a reboot): the client has given up on the old transfer, so the old entry is
 *    superseded and ends silently, or it would keep answering the new request with the old
 *    file's blocks.
 *
 * Each entry holds an admission ticket (its slots and buffer reservation); release() frees it
 * exactly once and wakes stop() when the table empties.
 */
import type { SessionDriver } from '../transport/session-driver.js';
import type { ServerCounters } from '../stats/counters.js';
import type { Admission, AdmissionTicket } from './admission.js';

export interface SessionEntry {
  readonly key: string;
  readonly peerAddress: string;
  /** The request datagram, to tell a retransmission (same bytes) from a new request. */
  readonly requestBytes: Buffer;
  driver: SessionDriver | undefined;
  /** A different request from the same peer address and port replaced this one. */
  superseded: boolean;
  released: boolean;
  /** Its slots at admission (sessions, per client, per prefix) and its buffer reservation. */
  readonly ticket: AdmissionTicket;
}

export const peerKey = (address: string, port: number): string => `${address}|${port}`;

/** Busy requests looked at again after one turn of the event loop; past this, refused at once. */
const MAX_DEFERRED = 1024;

export class SessionTable {
  private readonly entries = new Map<string, SessionEntry>();
  /** Requests refused busy once, waiting one turn of the event loop to be decided again. */
  private readonly deferred = new Set<string>();
  private drainWaiters: (() => void)[] = [];

  constructor(
    private readonly admission: Admission,
    private readonly counters: ServerCounters,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  get(key: string): SessionEntry | undefined {
    return this.entries.get(key);
  }

  has(key: string): boolean {
    return this.entries.has(key);
  }

  all(): SessionEntry[] {
    return [...this.entries.values()];
  }

  /**
   * A request datagram from `key`: 'duplicate' (counted; the running session repeats its first
   * packet) or 'new' (any older entry under the key has been superseded).
   */
  arrive(key: string, requestBytes: Buffer): 'duplicate' | 'new' {
    if (this.deferred.has(key)) {
      // Its first copy is waiting one turn of the event loop for a slot.
      this.counters.duplicateRequests++;
      return 'duplicate';
    }
    const existing = this.entries.get(key);
    if (existing) {
      if (existing.requestBytes.equals(requestBytes)) {
        this.counters.duplicateRequests++;
        existing.driver?.repeatRequest();
        return 'duplicate';
      }
      this.supersede(existing);
    }
    return 'new';
  }

  /**
   * Issue 13: a client that has its last block sends the final ACK (to the session's port) and
   * at once its next request (to ours), and the event loop may hand us the request first, while
   * the finished session still holds its slot. Such a request is decided again once the
   * datagrams already received have been handled (setImmediate runs after the poll phase).
   * False when too many already wait: the caller refuses at once.
   */
  defer(key: string, retry: () => void): boolean {
    if (this.deferred.size >= MAX_DEFERRED) return false;
    this.deferred.add(key);
    setImmediate(() => {
      this.deferred.delete(key);
      if (!this.entries.has(key)) retry();
    });
    return true;
  }

  /** An admitted request's entry, holding its ticket until release(). */
  add(key: string, peerAddress: string, requestBytes: Buffer, ticket: AdmissionTicket): SessionEntry {
    const entry: SessionEntry = { key, peerAddress, requestBytes: Buffer.from(requestBytes), driver: undefined, superseded: false, released: false, ticket };
    this.entries.set(key, entry);
    return entry;
  }

  /** Ends a session replaced by a new request from its peer: nothing is sent to the peer. */
  supersede(entry: SessionEntry): void {
    entry.superseded = true;
    entry.driver?.cancel('superseded');
    this.release(entry);
  }

  /** Frees an entry's slots, once; a newer entry under the same key is left alone. */
  release(entry: SessionEntry): void {
    if (entry.released) return;
    entry.released = true;
    if (this.entries.get(entry.key) === entry) this.entries.delete(entry.key);
    this.admission.release(entry.ticket);
    this.counters.bufferBytesReserved = this.admission.budget.reservedBytes;
    if (this.entries.size === 0 && this.drainWaiters.length > 0) {
      const waiters = this.drainWaiters;
      this.drainWaiters = [];
      for (const w of waiters) w();
    }
  }

  /** Resolves when the table is empty, or after graceMs. */
  async drained(graceMs: number): Promise<void> {
    if (this.entries.size === 0) return;
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, graceMs);
      this.drainWaiters.push(() => {
        clearTimeout(t);
        resolve();
      });
    });
  }
}
