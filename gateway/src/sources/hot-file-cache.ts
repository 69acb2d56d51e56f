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
 * used first out.
 */
export interface CachedFile {
  readonly bytes: Buffer;
  /** Identity of the file the bytes came from: inode, size, mtime. */
  readonly stamp: string;
  checkedAt: number;
}

export class HotFileCache {
  private readonly entries = new Map<string, CachedFile>();
  private readonly loading = new Map<string, Promise<CachedFile | undefined>>();
  private totalBytes = 0;

  constructor(
    readonly ttlMs: number,
    readonly maxFileBytes: number,
    private readonly maxTotalBytes: number,
  ) {}

  get enabled(): boolean {
    return this.ttlMs > 0 && this.maxTotalBytes > 0;
  }

  /** A fresh entry, or undefined when absent or older than the TTL. */
  fresh(key: string, now: number): CachedFile | undefined {
    const e = this.entries.get(key);
    if (!e || now - e.checkedAt > this.ttlMs) return undefined;
    // Map order is recency order: move to the end.
    this.entries.delete(key);
    this.entries.set(key, e);
    return e;
  }

  /** An entry regardless of age, for revalidation by stamp. */
  peek(key: string): CachedFile | undefined {
    return this.entries.get(key);
  }

  /** Runs `load` once for concurrent callers with the same key. */
  loadOnce(key: string, load: () => Promise<CachedFile | undefined>): Promise<CachedFile | undefined> {
    let p = this.loading.get(key);
    if (!p) {
      p = load().finally(() => this.loading.delete(key));
      this.loading.set(key, p);
    }
    return p;
  }

  set(key: string, entry: CachedFile): void {
    if (!this.enabled || entry.bytes.length > this.maxFileBytes) return;
    const old = this.entries.get(key);
    if (old) {
      this.totalBytes -= old.bytes.length;
      this.entries.delete(key);
    }
    this.entries.set(key, entry);
    this.totalBytes += entry.bytes.length;
    for (const [k, e] of this.entries) {
      if (this.totalBytes <= this.maxTotalBytes) break;
      this.entries.delete(k);
      this.totalBytes -= e.bytes.length;
    }
  }
}
