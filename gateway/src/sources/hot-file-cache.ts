/**
 * Keeps the contents of small, hot files in memory for a short time.
 *
 * A boot storm asks for the same few files (ipxe.efi, grub.cfg, a kernel) thousands of times a
 * minute; without this every request costs open, a descriptor check, fstat, read and close on
 * the libuv thread pool. An entry is trusted for `ttlMs`; after that the next request re-opens
 * the file (and checks the descriptor is inside the root, sources/beneath.ts) and keeps the
 * bytes if inode, size and mtime are unchanged. Only bytes read from a checked descriptor are
 * ever put here: one won race must not be served to everyone for a TTL (issue 9 §4).
 * Concurrent loads of one file share a single read. Bounded by total bytes, least recently
 * used first out (cache/byte-lru.ts; the shared read is cache/single-flight.ts).
 */
import { ByteLru } from '../cache/byte-lru.js';
import { SingleFlight } from '../cache/single-flight.js';

export interface CachedFile {
  readonly bytes: Buffer;
  /** Identity of the file the bytes came from: inode, size, mtime. */
  readonly stamp: string;
  checkedAt: number;
}

export class HotFileCache {
  private readonly entries: ByteLru<CachedFile>;
  private readonly loading = new SingleFlight<CachedFile | undefined>();

  constructor(
    readonly ttlMs: number,
    readonly maxFileBytes: number,
    private readonly maxTotalBytes: number,
  ) {
    this.entries = new ByteLru({ maxBytes: maxTotalBytes });
  }

  get enabled(): boolean {
    return this.ttlMs > 0 && this.maxTotalBytes > 0;
  }

  /** A fresh entry (now the most recently used), or undefined when absent or older than the TTL. */
  fresh(key: string, now: number): CachedFile | undefined {
    const e = this.entries.peek(key);
    if (!e || now - e.checkedAt > this.ttlMs) return undefined;
    return this.entries.get(key);
  }

  /** An entry regardless of age, for revalidation by stamp. */
  peek(key: string): CachedFile | undefined {
    return this.entries.peek(key);
  }

  /** Runs `load` once for concurrent callers with the same key. */
  loadOnce(key: string, load: () => Promise<CachedFile | undefined>): Promise<CachedFile | undefined> {
    return this.loading.run(key, load);
  }

  set(key: string, entry: CachedFile): void {
    if (!this.enabled || entry.bytes.length > this.maxFileBytes) return;
    this.entries.set(key, entry, entry.bytes.length);
  }
}
