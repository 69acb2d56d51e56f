/**
 * The author harness runs a function that reads request.body the way the gateway does
 * (sdk/invoke.ts → runtime/body-local.ts: the gateway's BodyInbox/BodyUpload and credit).
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { accepted, denied, invoke, s3Put, type Handler } from '../../../sdk/index.js';
import { seededBytes } from '../../helpers/seeded.js';

const hashing: Handler = async (request, env) => {
  if (request.kind !== 'write' || !request.body) return denied();
  const hash = createHash('sha256');
  try {
    for await (const chunk of request.body) hash.update(chunk);
  } catch (e) {
    await env.kv.set(`aborted:${request.path}`, String((e as { reason?: string }).reason));
    throw e;
  }
  await env.kv.set(`sha256:${request.path}`, hash.digest('hex'));
  return accepted();
};

async function* chunks(bytes: Uint8Array, size: number): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < bytes.byteLength; i += size) yield bytes.subarray(i, i + size);
}

describe('invoke: a handler that reads request.body', () => {
  it('hashes a 3 MiB body fed in 1468-byte blocks and answers accepted()', async () => {
    const bytes = seededBytes(15, 3 * 1024 * 1024 + 5);
    const kvMap = new Map<string, string>();
    const kv = { get: async (k: string) => kvMap.get(k), set: async (k: string, v: string | Uint8Array) => void kvMap.set(k, String(v)), del: async (k: string) => void kvMap.delete(k) };
    const r = await invoke(hashing, { kind: 'write', path: 'dump.bin', body: chunks(bytes, 1468) }, { kv: kv as never });
    expect(r.errorCode).toBeUndefined();
    expect(r.response).toEqual({ kind: 'accepted' });
    expect(r.received).toBe(bytes.byteLength);
    expect(kvMap.get('sha256:dump.bin')).toBe(createHash('sha256').update(bytes).digest('hex'));
  });

  it('a handler that throws after reading part of the body gives ERROR 0 "internal error", with what it threw', async () => {
    const r = await invoke(
      async (request) => {
        for await (const chunk of request.body!) if (chunk.byteLength > 0) throw new Error('not this one');
        return accepted();
      },
      { kind: 'write', path: 'x', body: chunks(new Uint8Array(10_000), 512) },
    );
    expect(r.errorCode).toBe(0);
    expect(r.errorMessage).toBe('internal error');
    expect((r.thrown as Error).message).toBe('not this one');
  });

  it('a handler that reads, then answers denied(), gives that ERROR', async () => {
    const r = await invoke(
      async (request) => {
        const it = request.body![Symbol.asyncIterator]();
        await it.next();
        return denied('no dumps today');
      },
      { kind: 'write', path: 'x', body: chunks(new Uint8Array(10_000), 512) },
    );
    expect(r.errorCode).toBe(2);
    expect(r.errorMessage).toBe('no dumps today');
  });

  it('past maxUploadBytes the body iterator throws reason "too-large" and the result is ERROR 3', async () => {
    const kvMap = new Map<string, string>();
    const kv = { get: async (k: string) => kvMap.get(k), set: async (k: string, v: string | Uint8Array) => void kvMap.set(k, String(v)), del: async () => {} };
    const r = await invoke(hashing, { kind: 'write', path: 'big', body: chunks(new Uint8Array(100_000), 1000) }, { kv: kv as never }, { maxUploadBytes: 50_000 });
    expect(r.errorCode).toBe(3);
    expect(r.errorMessage).toBe('upload too large');
    // The handler's catch runs on its own schedule: wait for it (bounded).
    for (let i = 0; i < 100 && !kvMap.has('aborted:big'); i++) await new Promise((res) => setTimeout(res, 5));
    expect(kvMap.get('aborted:big')).toBe('too-large');
  });

  it('a handler that answers s3Put() without reading still gets the bytes stored, as before', async () => {
    const r = await invoke(() => s3Put({ bucket: 'backups', key: 'k' }), { kind: 'write', path: 'x', body: 'hello' });
    expect(r.stored?.body.toString()).toBe('hello');
  });

  it('accepted() answers a write only', async () => {
    const r = await invoke(() => accepted(), 'x');
    expect(r.errorCode).toBe(0);
    expect(String(r.thrown)).toMatch(/accepted\(\) answers a write request only/);
  });
});
