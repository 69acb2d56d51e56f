/**
 * What a source hands the session driver: a reader of bytes and, when known, their size.
 * Every source (folder, memory, later S3, Redis, functions) implements these.
 */
export interface ByteReader {
  /** Known exact size in bytes, which becomes tsize; undefined when unknown. */
  readonly size: number | undefined;
  /** Resolves with the next bytes (at least one, ideally about `hintBytes`), or null at the end. */
  read(hintBytes: number): Promise<Uint8Array | null>;
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
