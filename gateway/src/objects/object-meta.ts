/**
 * An object's metadata (size, ETag), kept fresh: trusted for `freshnessMs`, then re-checked
 * with a conditional HEAD (If-None-Match), so an unchanged object costs a 304 and no body.
 * Concurrent checks of one object share one HEAD (cache/single-flight.ts), and a check another
 * gateway made recently (in the shared cache, with its wall-clock time) counts as ours.
 */
import type { KvStore } from '../cache/kv.js';
import { objectMetaKey } from '../cache/keyspace.js';
import { SingleFlight } from '../cache/single-flight.js';
import type { ObjectInfo, ObjectRef, ObjectStore } from './object-store.js';

export interface ObjectMetaOptions {
  /** Metadata is trusted this long before a conditional HEAD re-checks it. */
  readonly freshnessMs: number;
  /** A check lives this long in the shared cache. */
  readonly cacheTtlSeconds: number;
}

/** The counters this part moves (a subset of ObjectSourceStats, the same object). */
export interface ObjectMetaStats {
  upstreamHeads: number;
  upstreamErrors: number;
  notModified: number;
}

interface Meta {
  readonly info: ObjectInfo;
  checkedAt: number;
}

/** The name of one object (bucket, key, version) in cache keys and tables. */
export function refKey(ref: ObjectRef): string {
  return `${ref.bucket}/${ref.key}${ref.versionId ? `?v=${ref.versionId}` : ''}`;
}

export class ObjectMeta {
  private readonly metas = new Map<string, Meta>();
  private readonly checks = new SingleFlight<ObjectInfo>();

  constructor(
    private readonly store: ObjectStore,
    private readonly kv: KvStore,
    private readonly opts: ObjectMetaOptions,
    private readonly stats: ObjectMetaStats,
    private readonly now: () => number,
  ) {}

  /** Size and ETag: trusted while fresh, then re-checked with a conditional HEAD. */
  async info(ref: ObjectRef): Promise<ObjectInfo> {
    const key = refKey(ref);
    const known = this.metas.get(key);
    if (known && this.now() - known.checkedAt < this.opts.freshnessMs) return known.info;
    return this.checks.run(key, async () => {
      const shared = known ?? (await this.sharedMeta(key));
      if (shared && this.now() - shared.checkedAt < this.opts.freshnessMs) {
        this.metas.set(key, shared);
        return shared.info;
      }
      this.stats.upstreamHeads++;
      let head;
      try {
        head = await this.store.head(ref, shared ? { ifNoneMatch: shared.info.etag } : {});
      } catch (e) {
        this.stats.upstreamErrors++;
        throw e;
      }
      const meta: Meta = head === 'not-modified' ? { info: shared!.info, checkedAt: this.now() } : { info: head, checkedAt: this.now() };
      if (head === 'not-modified') this.stats.notModified++;
      this.metas.set(key, meta);
      void this.kv.set(objectMetaKey(key), Buffer.from(JSON.stringify({ size: meta.info.size, etag: meta.info.etag, checkedAtMs: Date.now() })), this.opts.cacheTtlSeconds);
      return meta.info;
    });
  }

  /** Another gateway's recent check, from the shared cache. */
  private async sharedMeta(key: string): Promise<Meta | undefined> {
    const raw = await this.kv.get(objectMetaKey(key));
    if (!raw) return undefined;
    try {
      const m = JSON.parse(Buffer.from(raw).toString()) as { size: number; etag: string; checkedAtMs: number };
      if (typeof m.size !== 'number' || typeof m.etag !== 'string' || typeof m.checkedAtMs !== 'number') return undefined;
      // Wall-clock age turned into our monotonic clock.
      return { info: { size: m.size, etag: m.etag }, checkedAt: this.now() - Math.max(0, Date.now() - m.checkedAtMs) };
    } catch {
      return undefined;
    }
  }
}
