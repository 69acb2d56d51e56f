/**
 * The reference source: bytes already in memory. Used for cached files, generated content and
 * tests. Chunks are views of the one buffer, never copies.
 */
import { DEFAULTS } from '../config/defaults.js';
import { readSize, type ByteReader } from './types.js';

export function memoryReader(bytes: Uint8Array, readAheadBytes: number = DEFAULTS.readAheadBytes): ByteReader {
  return new MemoryReader(bytes, readAheadBytes);
}

/** A class, not an object of closures: a session opens one per request of a cached file. */
class MemoryReader implements ByteReader {
  private offset = 0;

  constructor(
    private readonly bytes: Uint8Array,
    private readonly readAheadBytes: number,
  ) {}

  get size(): number {
    return this.bytes.length;
  }

  readNow(hintBytes: number): Uint8Array | null {
    const { bytes, offset } = this;
    if (offset >= bytes.length) return null;
    const end = Math.min(bytes.length, offset + readSize(hintBytes, this.readAheadBytes));
    this.offset = end;
    return bytes.subarray(offset, end);
  }

  async read(hintBytes: number): Promise<Uint8Array | null> {
    return this.readNow(hintBytes);
  }

  async close(): Promise<void> {}
}
