/**
 * The reference source: bytes already in memory. Used for cached files, generated content and
 * tests. Chunks are views of the one buffer, never copies.
 */
import { DEFAULTS } from '../config/defaults.js';
import { readSize, type ByteReader } from './types.js';

export function memoryReader(bytes: Uint8Array, readAheadBytes: number = DEFAULTS.readAheadBytes): ByteReader {
  let offset = 0;
  return {
    size: bytes.length,
    async read(hintBytes: number): Promise<Uint8Array | null> {
      if (offset >= bytes.length) return null;
      const end = Math.min(bytes.length, offset + readSize(hintBytes, readAheadBytes));
      const chunk = bytes.subarray(offset, end);
      offset = end;
      return chunk;
    },
    async close(): Promise<void> {},
  };
}
