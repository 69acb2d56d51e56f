/**
 * The in-memory reader (sources/memory.ts): views of the one buffer, in read-ahead sized
 * chunks that end on block boundaries, the same through readNow() (the session driver's
 * synchronous path) as through read().
 */
import { describe, expect, it } from 'vitest';
import { memoryReader } from '../../../gateway/src/sources/memory.js';

describe('sources: memory reader', () => {
  it('memory: readNow and read give the same chunks: views of the buffer, whole multiples of the hint, then null', async () => {
    const bytes = Buffer.from(Array.from({ length: 5000 }, (_, i) => i & 0xff));
    const a = memoryReader(bytes, 2048);
    const b = memoryReader(bytes, 2048);
    expect(a.size).toBe(5000);
    const viaNow: (Uint8Array | null)[] = [];
    const viaRead: (Uint8Array | null)[] = [];
    for (let i = 0; i < 4; i++) {
      viaNow.push(a.readNow!(512));
      viaRead.push(await b.read(512));
    }
    // 2048 is 4 blocks of 512: chunks of 2048, 2048, the 904 left, then the end.
    expect(viaNow.map((c) => c?.length ?? null)).toEqual([2048, 2048, 904, null]);
    expect(viaRead.map((c) => c?.length ?? null)).toEqual([2048, 2048, 904, null]);
    expect(Buffer.concat(viaNow.filter((c): c is Uint8Array => c !== null))).toEqual(bytes);
    // Views, never copies.
    expect(viaNow[1]!.buffer).toBe(bytes.buffer);
    expect(viaNow[1]!.byteOffset).toBe(bytes.byteOffset + 2048);
  });

  it('memory: an empty buffer ends at once; close does nothing and may be called twice', async () => {
    const r = memoryReader(new Uint8Array(0));
    expect(r.size).toBe(0);
    expect(r.readNow!(512)).toBeNull();
    expect(await r.read(512)).toBeNull();
    await r.close();
    await r.close();
  });
});
