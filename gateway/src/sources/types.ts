/**
 * What a source hands the session driver: a reader of bytes and, when known, their size.
 * Every source (folder, memory, later S3, Redis, functions) implements these.
 */
/**
 * How much to read for a request of `hintBytes` (a window of blocks): the read-ahead rounded
 * down to a whole number of hints, so chunks end on block boundaries and no block is ever
 * assembled from two chunks (which would cost a copy).
 */
export function readSize(hintBytes: number, readAheadBytes: number): number {
  if (hintBytes <= 0) return readAheadBytes;
  return hintBytes >= readAheadBytes ? hintBytes : hintBytes * Math.floor(readAheadBytes / hintBytes);
}

export interface ByteReader {
  /** Known exact size in bytes, which becomes tsize; undefined when unknown. */
  readonly size: number | undefined;
  /**
   * Resolves with the next bytes (at least one, ideally about `hintBytes`), or null at the end.
   * The caller owns what it gets: blocks are sent as views of it, so a reader must never
   * reuse or change a buffer it has returned, unless the caller gave it back with release().
   */
  read(hintBytes: number): Promise<Uint8Array | null>;
  /**
   * Optional, for readers whose bytes are already in memory (memory.ts): what read() would
   * resolve with, returned at once. The session driver prefers it: no promise and no microtask
   * per chunk, a measurable share of a small file's cost (issue 13, the 1 KiB row).
   */
  readNow?(hintBytes: number): Uint8Array | null;
  /**
   * Optional: the caller no longer references any of the first `bytes` bytes of the stream (the
   * session dropped them and no send queued in the socket still points at them), so the reader
   * may reuse the buffers that held them. Cumulative; Infinity means all of it. A reader without
   * it allocates every chunk anew.
   */
  release?(bytes: number): void;
  close(): Promise<void>;
}

export interface ByteWriter {
  write(chunk: Uint8Array): Promise<void>;
  /** Makes the upload visible, atomically. */
  commit(): Promise<void>;
  /** Discards the upload; leaves nothing behind. */
  abort(): Promise<void>;
}

/** Where bytes come from: 'folder', 'memory', 'generated', 's3', 'cache'. */
export type SourceKind = string;

export interface OpenedRead {
  readonly reader: ByteReader;
  readonly source: SourceKind;
}
