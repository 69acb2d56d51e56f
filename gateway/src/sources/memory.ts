/**
 * The reference source: bytes already in memory. Used for generated content and in tests.
 */
import type { ByteReader } from './types.js';

export function memoryReader(bytes: Uint8Array, chunkBytes = 64 * 1024): ByteReader {
  let offset = 0;
  return {
    size: bytes.length,
    async read(): Promise<Uint8Array | null> {
      if (offset >= bytes.length) return null;
      const end = Math.min(bytes.length, offset + chunkBytes);
      const chunk = bytes.subarray(offset, end);
      offset = end;
      return chunk;
    },
    async close(): Promise<void> {},
  };
}
