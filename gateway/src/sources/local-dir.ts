/**
 * The folder source: the embedded default in place of a bucket. Reads files under a root and,
 * when a writable folder is configured, stores uploads there.
 *
 * Escapes are refused with ERROR 2: a file is opened first and then the descriptor's real
 * path is checked against the root (sources/beneath.ts), so neither a link inside the root
 * that points outside it nor a symlink or directory swapped in while a request is served can
 * lead outside; missing files are ERROR 1. Error texts are fixed strings: no server path ever
 * reaches the wire.
 *
 * The upload sink (LocalDirSink) is local-dir-sink.ts, re-exported here for its importers.
 */
import type { FileHandle } from 'node:fs/promises';
import { constants, realpathSync, type Stats } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { join } from 'node:path';
import { DEFAULTS } from '../config/defaults.js';
import { toTftpError, wireError } from '../errors/to-tftp-error.js';
import { WIRE_TEXT } from '../errors/wire-texts.js';
import type { RequestPath } from '../protocol/path.js';
import { readSize, type ByteReader } from './types.js';
import { HotFileCache } from './hot-file-cache.js';
import { READ_BUFFERS } from './read-buffer-pool.js';
import { memoryReader } from './memory.js';
import { openBeneath } from './beneath.js';

export { LocalDirSink } from './local-dir-sink.js';

const denied = (cause?: unknown) => wireError(WIRE_TEXT.accessViolation, { cause });

export interface LocalDirOptions {
  /** Bytes read from disk at a time, at least what the session asks for. */
  readAheadBytes?: number;
  /** How long cached file contents are trusted before re-checking the file; 0 disables. */
  cacheTtlMs?: number;
  /** Files up to this size are cached whole. */
  cacheMaxFileBytes?: number;
  /** Total bytes the cache may hold. */
  cacheMaxTotalBytes?: number;
}

export class LocalDirSource {
  private readonly root: string;
  private readonly readAheadBytes: number;
  private readonly cache: HotFileCache;

  constructor(root: string, opts: LocalDirOptions = {}) {
    this.root = realpathSync(root);
    this.readAheadBytes = opts.readAheadBytes ?? DEFAULTS.readAheadBytes;
    this.cache = new HotFileCache(opts.cacheTtlMs ?? 0, opts.cacheMaxFileBytes ?? 0, opts.cacheMaxTotalBytes ?? 0);
  }

  /** A hot file (a fresh cache hit) at once, with no promise; anything else opens the file. */
  openRead(path: RequestPath): ByteReader | Promise<ByteReader> {
    if (this.cache.enabled) {
      const hit = this.cache.fresh(path.normalized, performance.now());
      if (hit) return memoryReader(hit.bytes, this.readAheadBytes);
    }
    return this.openFile(path);
  }

  private async openFile(path: RequestPath): Promise<ByteReader> {
    let fh: FileHandle;
    try {
      // Open, then check where the descriptor points: resolving first and opening second
      // races a symlink swap (issue 9 §4). Only bytes from a checked descriptor are cached.
      ({ fh } = await openBeneath(this.root, join(this.root, path.normalized), constants.O_RDONLY));
    } catch (e) {
      throw toTftpError(e);
    }
    try {
      const st = await fh.stat();
      if (!st.isFile()) throw denied(new Error('not a regular file'));
      if (this.cache.enabled && st.size <= this.cache.maxFileBytes) {
        const bytes = await this.cached(path.normalized, fh, st);
        await fh.close().catch(() => {});
        return memoryReader(bytes, this.readAheadBytes);
      }
      return new FileReader(fh, st.size, this.readAheadBytes);
    } catch (e) {
      await fh.close().catch(() => {});
      throw toTftpError(e);
    }
  }

  /** The file's bytes, from the cache when its stamp still matches, else read once and kept. */
  private async cached(key: string, fh: FileHandle, st: Stats): Promise<Buffer> {
    const stamp = `${st.ino}:${st.size}:${st.mtimeMs}`;
    const old = this.cache.peek(key);
    if (old && old.stamp === stamp) {
      old.checkedAt = performance.now();
      return old.bytes;
    }
    const entry = await this.cache.loadOnce(`${key}\0${stamp}`, async () => {
      const bytes = Buffer.allocUnsafe(st.size);
      let filled = 0;
      while (filled < st.size) {
        const { bytesRead } = await fh.read(bytes, filled, st.size - filled, filled);
        if (bytesRead === 0) break;
        filled += bytesRead;
      }
      if (filled !== st.size) throw wireError(WIRE_TEXT.fileChanged, { code: 'TFTP_UPSTREAM_FAILED' });
      const e = { bytes, stamp, checkedAt: performance.now() };
      this.cache.set(key, e);
      return e;
    });
    return entry!.bytes;
  }
}

/**
 * Reads a file a window at a time. Whole chunks come from the process's ReadBufferPool and go
 * back to it when the session driver releases them (ByteReader.release): a lock-step session
 * then cycles two buffers (the block in flight, the next one read ahead) instead of allocating
 * 64 KiB per block. A shorter tail is allocated on its own and left to the collector.
 */
class FileReader implements ByteReader {
  private position = 0;
  private closed = false;
  /** Pooled chunks handed out and not yet released, oldest first, by the stream offset they end at. */
  private readonly lent: { end: number; buf: Buffer }[] = [];

  constructor(private readonly fh: FileHandle, readonly size: number, private readonly readAheadBytes: number) {}

  async read(hintBytes: number): Promise<Uint8Array | null> {
    // The size at open time is what tsize promised: never send more than that.
    const remaining = this.size - this.position;
    if (remaining <= 0) return null;
    const chunkBytes = readSize(hintBytes, this.readAheadBytes);
    const len = Math.min(remaining, chunkBytes);
    const pooled = len === chunkBytes;
    const buf = pooled ? READ_BUFFERS.take(len) : Buffer.allocUnsafe(len);
    let bytesRead: number;
    try {
      ({ bytesRead } = await this.fh.read(buf, 0, len, this.position));
    } catch (e) {
      throw toTftpError(e);
    }
    if (bytesRead === 0) {
      // The file shrank under us: what we announced can no longer be delivered.
      throw wireError(WIRE_TEXT.fileChanged, { code: 'TFTP_UPSTREAM_FAILED' });
    }
    this.position += bytesRead;
    if (pooled) this.lent.push({ end: this.position, buf });
    return buf.subarray(0, bytesRead);
  }

  release(bytes: number): void {
    const lent = this.lent;
    while (lent.length > 0 && lent[0].end <= bytes) READ_BUFFERS.give(lent.shift()!.buf);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.fh.close().catch(() => {});
  }
}
