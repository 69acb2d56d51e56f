/**
 * Server stats: one snapshot of everything the gateway counts, as fbtftp's server-stats
 * callback gives it. The same snapshot feeds `onServerStats`, `RunningGateway.stats()` and the
 * pulled Prometheus metrics (stats/metrics.ts reads it once per scrape).
 *
 * The parts are read through small structural views, not the classes that own them, so this
 * file (and metrics.ts, which imports its type) depends on no wiring: app/ assembles the parts.
 */
import type { KvStats } from '../cache/kv.js';
import type { FunctionStatus } from '../runtime/function-runtime.js';
import type { ObjectSourceStats } from '../objects/object-source.js';
import { uploadTotals, uploadTotalsByStore, type UploadCounters } from '../objects/upload-registry.js';
import type { ServerCounters } from './counters.js';
import type { RedisStatsSinkStats } from './redis-sink.js';

/** What the periodic server-stats callback gets: the counters and each function's state. */
export interface ServerStats {
  readonly at: string;
  readonly counters: ServerCounters;
  readonly functions: FunctionStatus[];
  /** Objects from buckets: cache hits and misses, bytes from the cache and from the bucket. */
  readonly objects: (ObjectSourceStats & { store: string; memoryHeldBytes: number }) | undefined;
  /** The shared key-value store (Redis or memory): availability and call outcomes. */
  readonly kv: (KvStats & { kind: string; available: boolean }) | undefined;
  /** Session records shipped to Redis: pushed, flushed, dropped, buffered (with redisUrl). */
  readonly statsSink: RedisStatsSinkStats | undefined;
  /** Uploads through functions (issue 15), for the whole process; absent until one was taken. */
  readonly uploads?: UploadCounters;
  /** The same by store kind (`s3`, `folder`, `function`, `discard`), for the `store` label on /metrics. */
  readonly uploadsByStore?: Readonly<Record<string, UploadCounters>>;
}

/** The parts a snapshot is read from; every part but the counters is optional. */
export interface ServerStatsParts {
  readonly counters: ServerCounters;
  readonly functions?: { status(): FunctionStatus[] };
  readonly objects?: { readonly stats: ObjectSourceStats; readonly store: { readonly kind: string }; readonly memoryHeld: number };
  readonly kv?: { readonly stats: KvStats; readonly kind: string; readonly available: boolean };
  readonly statsSink?: { readonly stats: RedisStatsSinkStats };
}

/**
 * A copy, not a view: the counters go on moving after the snapshot is taken, and a hook may
 * keep the snapshot (a list of them, a diff between two).
 */
export function serverStatsSnapshot(parts: ServerStatsParts, at: Date = new Date()): ServerStats {
  const { counters, objects, kv, statsSink } = parts;
  return {
    at: at.toISOString(),
    counters: { ...counters, sessionsByOutcome: { ...counters.sessionsByOutcome } },
    functions: parts.functions?.status() ?? [],
    objects: objects && { ...objects.stats, store: objects.store.kind, memoryHeldBytes: objects.memoryHeld },
    kv: kv && { ...kv.stats, kind: kv.kind, available: kv.available },
    statsSink: statsSink && { ...statsSink.stats },
    ...uploadParts(),
  };
}

function uploadParts(): Pick<ServerStats, 'uploads' | 'uploadsByStore'> {
  const uploads = uploadTotals();
  const uploadsByStore = uploadTotalsByStore();
  return uploads && uploadsByStore ? { uploads, uploadsByStore } : {};
}
