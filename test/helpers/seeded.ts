/**
 * Seeded randomness for tests: file contents and fuzz inputs are reproducible from a seed,
 * and every test prints its seed so a failure can be replayed.
 */

/** mulberry32: small, fast, and good enough for test data (not for anything secret). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `n` pseudo-random bytes from `seed`, four bytes per step (40 MiB in about a tenth of a second). */
export function seededBytes(seed: number, n: number): Buffer {
  const out = Buffer.allocUnsafe(n);
  let a = seed >>> 0;
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out.writeUInt32LE((t ^ (t >>> 14)) >>> 0, i);
  }
  for (; i < n; i++) out[i] = (seed + i * 131) & 0xff;
  return out;
}

/** The seed from TFTPFN_TEST_SEED when set (to replay a failure), else `fallback`. */
export function testSeed(fallback: number): number {
  const env = process.env.TFTPFN_TEST_SEED;
  return env !== undefined && env !== '' ? Number(env) >>> 0 : fallback;
}
