/**
 * The folder source: the embedded default in place of a bucket. Reads files under a root and,
 * when a writable folder is configured, stores uploads there.
 *
 * Escapes are refused with ERROR 2 after resolving symlinks (realpath), so a link inside the
 * root that points outside it cannot be followed; missing files are ERROR 1. Error texts are
 * fixed strings: no server path ever reaches the wire.
 */
import { open, realpath, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { realpathSync } from 'node:fs';
import { dirname, join, sep } from 'node:path';
import { randomBytes } from 'node:crypto';
import { ErrorCode, TftpError } from '../protocol/error-codes.js';
import type { RequestPath } from '../request/path.js';
import { readSize, type ByteReader, type ByteWriter } from './types.js';
import { HotFileCache } from './hot-file-cache.js';
import { memoryReader } from './memory.js';

const notFound = (cause?: unknown) => new TftpError(ErrorCode.FileNotFound, 'file not found', { cause });
const denied = (cause?: unknown) => new TftpError(ErrorCode.AccessViolation, 'access violation', { cause });

function mapFsError(e: unknown): TftpError {
  const code = (e as NodeJS.ErrnoException)?.code;
  if (code === 'ENOENT' || code === 'ENOTDIR') return notFound(e);
  if (code === 'EACCES' || code === 'EPERM' || code === 'ELOOP') return denied(e);
  if (code === 'ENOSPC' || code === 'EDQUOT') return new TftpError(ErrorCode.DiskFull, 'disk full', { cause: e });
  if (code === 'EEXIST') return new TftpError(ErrorCode.FileExists, 'file already exists', { cause: e });
  return new TftpError(ErrorCode.NotDefined, 'read error', { cause: e, code: 'TFTP_UPSTREAM_FAILED' });
}

function inside(root: string, p: string): boolean {
  return p === root || p.startsWith(root.endsWith(sep) ? root : root + sep);
}

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
    this.readAheadBytes = opts.readAheadBytes ?? 64 * 1024;
    this.cache = new HotFileCache(opts.cacheTtlMs ?? 0, opts.cacheMaxFileBytes ?? 0, opts.cacheMaxTotalBytes ?? 0);
  }

  async openRead(path: RequestPath): Promise<ByteReader> {
    if (this.cache.enabled) {
      const hit = this.cache.fresh(path.normalized, performance.now());
      if (hit) return memoryReader(hit.bytes, this.readAheadBytes);
    }
    const real = await this.resolve(path);
    let fh: FileHandle;
    try {
      fh = await open(real, 'r');
    } catch (e) {
      throw mapFsError(e);
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
      throw e instanceof TftpError ? e : mapFsError(e);
    }
  }

  /** Resolves symlinks and refuses anything that lands outside the root. */
  private async resolve(path: RequestPath): Promise<string> {
    let real: string;
    try {
      real = await realpath(join(this.root, path.normalized));
    } catch (e) {
      throw mapFsError(e);
    }
    if (!inside(this.root, real)) throw denied(new Error('resolved outside the root'));
    return real;
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
      if (filled !== st.size) throw new TftpError(ErrorCode.NotDefined, 'file changed during transfer', { code: 'TFTP_UPSTREAM_FAILED' });
      const e = { bytes, stamp, checkedAt: performance.now() };
      this.cache.set(key, e);
      return e;
    });
    return entry!.bytes;
  }
}

class FileReader implements ByteReader {
  private position = 0;
  private closed = false;

  constructor(private readonly fh: FileHandle, readonly size: number, private readonly readAheadBytes: number) {}

  async read(hintBytes: number): Promise<Uint8Array | null> {
    // The size at open time is what tsize promised: never send more than that.
    const remaining = this.size - this.position;
    if (remaining <= 0) return null;
    const len = Math.min(remaining, readSize(hintBytes, this.readAheadBytes));
    const buf = Buffer.allocUnsafe(len);
    let bytesRead: number;
    try {
      ({ bytesRead } = await this.fh.read(buf, 0, len, this.position));
    } catch (e) {
      throw mapFsError(e);
    }
    if (bytesRead === 0) {
      // The file shrank under us: what we announced can no longer be delivered.
      throw new TftpError(ErrorCode.NotDefined, 'file changed during transfer', { code: 'TFTP_UPSTREAM_FAILED' });
    }
    this.position += bytesRead;
    return buf.subarray(0, bytesRead);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.fh.close().catch(() => {});
  }
}

/**
 * Uploads into a writable folder: bytes go to a hidden temp file beside the target, renamed
 * into place on the last block, so an aborted upload leaves nothing behind.
 */
export class LocalDirSink {
  private readonly root: string;

  constructor(root: string, private readonly allowOverwrite: boolean) {
    this.root = realpathSync(root);
  }

  async openWrite(path: RequestPath): Promise<ByteWriter> {
    const target = join(this.root, path.normalized);
    let parent: string;
    try {
      parent = await realpath(dirname(target));
    } catch (e) {
      throw mapFsError(e);
    }
    if (!inside(this.root, parent)) throw denied(new Error('parent resolves outside the root'));
    const final = join(parent, target.slice(dirname(target).length + 1));
    const existing = await stat(final).catch(() => undefined);
    if (existing && !existing.isFile()) throw denied(new Error('target is not a regular file'));
    if (existing && !this.allowOverwrite) throw new TftpError(ErrorCode.FileExists, 'file already exists');
    const temp = join(parent, `.tftpfn-upload-${randomBytes(6).toString('hex')}.part`);
    let fh: FileHandle;
    try {
      fh = await open(temp, 'wx', 0o644);
    } catch (e) {
      throw mapFsError(e);
    }
    let done = false;
    return {
      async write(chunk) {
        try {
          await fh.write(chunk);
        } catch (e) {
          throw mapFsError(e);
        }
      },
      async commit() {
        done = true;
        try {
          await fh.sync();
          await fh.close();
          await rename(temp, final);
        } catch (e) {
          await rm(temp, { force: true }).catch(() => {});
          throw mapFsError(e);
        }
      },
      async abort() {
        if (done) return;
        done = true;
        await fh.close().catch(() => {});
        await rm(temp, { force: true }).catch(() => {});
      },
    };
  }
}
