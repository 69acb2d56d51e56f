/**
 * The uploads a gateway has open (issue 15): counters for metrics, by store kind (`s3`,
 * `folder`, `function` for uploads a function reads itself: accepted(), and `discard`), the per-client
 * slots each function hands out (maxUploadsPerClient), and, for a bucket store, the sweep for
 * unfinished multipart uploads that a crashed gateway left behind.
 *
 * A function's slots (`UploadSlots`) are one count per client address, whatever the upload's
 * store: s3Put() and accepted() uploads of one client through one function share its limit.
 *
 * The sweep lists, every `sweepIntervalMs`, the unfinished uploads under each (bucket, first
 * key segment) this gateway has written to since it started, and aborts those initiated more
 * than `sweepAgeMs` ago (far longer than any session may last, maxSessionMs: so a live upload,
 * ours or another gateway's, is never touched). Its timer is unref'd: it never keeps the
 * process alive.
 */
import type { UploadStore } from './upload-store.js';
import { LocalUploadStore } from './upload-local.js';

export interface UploadCounters {
  started: number;
  committed: number;
  aborted: number;
  /** Bytes of committed uploads. */
  bytesCommitted: number;
  /** Refused by the per-client limit. */
  refusedPerClient: number;
  /** Unfinished uploads the sweep aborted. */
  swept: number;
  /** AbortMultipartUpload calls that failed (retried by the sweep). */
  abortFailures: number;
  active: number;
}

/** Every tally in this process, for the totals /metrics reports (upload counters are per process). */
const registries = new Set<UploadTally>();

const zeroCounters = (): UploadCounters => ({ started: 0, committed: 0, aborted: 0, bytesCommitted: 0, refusedPerClient: 0, swept: 0, abortFailures: 0, active: 0 });
const addInto = (t: UploadCounters, c: UploadCounters): void => {
  for (const k of Object.keys(t) as (keyof UploadCounters)[]) t[k] += c[k];
};

/** Upload counters summed over every store this process uploads to; undefined before the first upload store is used. */
export function uploadTotals(): UploadCounters | undefined {
  if (registries.size === 0) return undefined;
  const t = zeroCounters();
  for (const r of registries) addInto(t, r.counters);
  return t;
}

/**
 * The same counters by store kind (`s3`, `folder`, `function`, `discard`: the `store` label on /metrics); tallies
 * of one kind (two gateways in one process) are summed. Undefined before the first upload store is used.
 */
export function uploadTotalsByStore(): Record<string, UploadCounters> | undefined {
  if (registries.size === 0) return undefined;
  const byStore: Record<string, UploadCounters> = {};
  for (const r of registries) addInto((byStore[r.kind] ??= zeroCounters()), r.counters);
  return byStore;
}

export interface SweepOptions {
  readonly sweepIntervalMs: number;
  readonly sweepAgeMs: number;
  readonly onSweepError?: (e: unknown) => void;
}

/** Uploads in flight per client address through one function (its maxUploadsPerClient). */
export class UploadSlots {
  private readonly perClient = new Map<string, number>();

  /** Takes a slot for `client`; false when it already has `limit` uploads open. */
  take(client: string, limit: number): boolean {
    const n = this.perClient.get(client) ?? 0;
    if (n >= limit) return false;
    this.perClient.set(client, n + 1);
    return true;
  }

  give(client: string): void {
    const n = (this.perClient.get(client) ?? 1) - 1;
    if (n <= 0) this.perClient.delete(client);
    else this.perClient.set(client, n);
  }

  /** Uploads `client` has open. */
  held(client: string): number {
    return this.perClient.get(client) ?? 0;
  }
}

/** Ends one upload: gives its slot back and counts it; only the first call counts. */
export type UploadEnd = (outcome: 'committed' | 'aborted', bytes: number) => void;

/** The counters of the uploads into one kind of store, reported on /metrics by `kind`. */
export class UploadTally {
  readonly counters: UploadCounters = zeroCounters();

  constructor(readonly kind: string) {
    registries.add(this);
  }

  /**
   * Takes one of the function's slots for `client` (a peer address) and counts the upload as
   * started; undefined (counted as refused per client) when it already has `limit` open.
   */
  acquire(slots: UploadSlots, client: string, limit: number): UploadEnd | undefined {
    if (!slots.take(client, limit)) {
      this.counters.refusedPerClient++;
      return undefined;
    }
    this.counters.started++;
    this.counters.active++;
    let ended = false;
    return (outcome, bytes) => {
      if (ended) return;
      ended = true;
      slots.give(client);
      this.counters.active--;
      if (outcome === 'committed') {
        this.counters.committed++;
        this.counters.bytesCommitted += bytes;
      } else {
        this.counters.aborted++;
      }
    };
  }

  close(): void {
    registries.delete(this);
  }
}

export class UploadRegistry extends UploadTally {
  private readonly prefixes = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  /** Uploads whose abort failed (S3 down at the time): the sweep tries them again, whatever their age. */
  private readonly abortLater = new Map<string, { bucket: string; key: string; uploadId: string }>();

  constructor(
    readonly store: UploadStore,
    private readonly sweep: SweepOptions,
  ) {
    super(store.kind);
  }

  /** An abort that failed: retried at the next sweep (bounded: the oldest 10,000 are kept). */
  abortFailed(ref: { bucket: string; key: string }, uploadId: string): void {
    this.counters.abortFailures++;
    if (this.abortLater.size >= 10_000) this.abortLater.delete(this.abortLater.keys().next().value as string);
    this.abortLater.set(uploadId, { bucket: ref.bucket, key: ref.key, uploadId });
  }

  /** Remembers where uploads go, for the sweep, and starts it on first use. */
  wroteTo(bucket: string, key: string): void {
    const slash = key.indexOf('/');
    this.prefixes.add(`${bucket}/${slash < 0 ? '' : key.slice(0, slash + 1)}`);
    if (!this.timer && this.sweep.sweepIntervalMs > 0) {
      this.timer = setInterval(() => void this.sweepOnce().catch((e) => this.sweep.onSweepError?.(e)), this.sweep.sweepIntervalMs);
      this.timer.unref();
    }
  }

  /** One sweep: aborts unfinished uploads older than sweepAgeMs under the prefixes written. Resolves how many. */
  async sweepOnce(nowMs = Date.now()): Promise<number> {
    let swept = 0;
    for (const [id, u] of this.abortLater) {
      try {
        await this.store.abortMultipart({ bucket: u.bucket, key: u.key }, u.uploadId);
        this.abortLater.delete(id);
        swept++;
      } catch {
        /* still down: next sweep */
      }
    }
    for (const p of this.prefixes) {
      const slash = p.indexOf('/');
      const bucket = p.slice(0, slash);
      const prefix = p.slice(slash + 1);
      let pending;
      try {
        pending = await this.store.listMultipart(bucket, prefix);
      } catch (e) {
        // Some S3-compatible servers (s3rver) do not implement ListMultipartUploads.
        this.sweep.onSweepError?.(e);
        continue;
      }
      for (const u of pending) {
        if (u.initiated === undefined || nowMs - u.initiated.getTime() < this.sweep.sweepAgeMs) continue;
        if (this.store instanceof LocalUploadStore) await this.store.removeStale(bucket, u);
        else await this.store.abortMultipart({ bucket, key: u.key }, u.uploadId);
        swept++;
      }
    }
    this.counters.swept += swept;
    return swept;
  }

  override close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    super.close();
  }
}
