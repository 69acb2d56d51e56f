/**
 * The SDK's storage-facing helpers: s3Object() responses, the env.kv binding and cached(),
 * and the invoke harness serving an s3Object from a local buckets folder.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { cached, setCacheBackend, type CacheBackend } from '../../../sdk/cached.js';
import { invoke } from '../../../sdk/invoke.js';
import { kvBinding, type RawKv } from '../../../sdk/kv-binding.js';
import { isResponse, responseProblem, s3Object, text } from '../../../sdk/response.js';
import type { Handler } from '../../../sdk/contract.js';

/** A RawKv over a Map that records what it was asked, as the runtime's store would see it. */
function mapKv() {
  const map = new Map<string, Uint8Array>();
  const ttls = new Map<string, number | undefined>();
  const raw: RawKv = {
    get: async (k) => map.get(k),
    set: async (k, v, ttl) => {
      map.set(k, v);
      ttls.set(k, ttl);
    },
    del: async (k) => void map.delete(k),
  };
  return { map, ttls, kv: kvBinding(raw) };
}

/** A CacheBackend over a Map that counts calls; cached() sees it through setCacheBackend. */
function countingBackend() {
  const map = new Map<string, { value: Uint8Array; ttl: number }>();
  const calls = { get: 0, set: 0 };
  const backend: CacheBackend = {
    get: async (k) => {
      calls.get++;
      return map.get(k)?.value;
    },
    set: async (k, value, ttl) => {
      calls.set++;
      map.set(k, { value, ttl });
    },
  };
  return { map, calls, backend };
}

let keySeq = 0;
/** cached() keeps in-flight runs per process: every test gets keys of its own. */
const freshKey = (name: string) => `${name}-${++keySeq}-${process.pid}`;

describe('s3Object', () => {
  test('s3Object: builds an object response; versionId is kept when given', () => {
    expect(s3Object({ bucket: 'boot', key: 'fedora-40/vmlinuz' })).toEqual({ kind: 'object', bucket: 'boot', key: 'fedora-40/vmlinuz', versionId: undefined });
    expect(s3Object({ bucket: 'boot-images.lab', key: 'k', versionId: '3HL4kqtJlcpXroDTDmJ' })).toEqual({
      kind: 'object', bucket: 'boot-images.lab', key: 'k', versionId: '3HL4kqtJlcpXroDTDmJ',
    });
    // Every kind but a stream crosses worker_threads as it is.
    const r = s3Object({ bucket: 'boot', key: 'a/b' });
    expect(structuredClone(r)).toEqual(r);
  });

  test('s3Object: bucket names follow the S3 rules (3-63 chars, lower case, digits, dots, hyphens)', () => {
    for (const bucket of ['abc', 'a'.repeat(63), 'my-bucket.2', '0ab']) {
      expect(() => s3Object({ bucket, key: 'k' }), bucket).not.toThrow();
    }
    for (const bucket of ['', 'ab', 'a'.repeat(64), 'Boot', 'my_bucket', '-boot', 'boot-', '.boot', 'boot.', 'bo/ot', 'bo ot']) {
      expect(() => s3Object({ bucket, key: 'k' }), bucket).toThrow(TypeError);
    }
    expect(() => s3Object({ bucket: 'Boot', key: 'k' })).toThrow('s3Object(): bucket must be a valid bucket name, got a string');
    expect(() => s3Object({ bucket: 42 as unknown as string, key: 'k' })).toThrow('bucket must be a valid bucket name, got 42');
  });

  test('s3Object: a key is non-empty, at most 1024 UTF-8 bytes, and has no ".." segment', () => {
    expect(() => s3Object({ bucket: 'boot', key: 'x'.repeat(1024) })).not.toThrow();
    // 512 two-byte characters are 1024 bytes; one more is over, though it is far fewer characters.
    expect(() => s3Object({ bucket: 'boot', key: 'é'.repeat(512) })).not.toThrow();
    expect(() => s3Object({ bucket: 'boot', key: 'é'.repeat(512) + 'x' })).toThrow(/at most 1024 bytes/);
    expect(() => s3Object({ bucket: 'boot', key: 'x'.repeat(1025) })).toThrow(/at most 1024 bytes/);
    expect(() => s3Object({ bucket: 'boot', key: '' })).toThrow('s3Object(): key must be a non-empty string of at most 1024 bytes, got a string');
    for (const key of ['..', '../etc/passwd', 'a/../b', 'a/..']) {
      expect(() => s3Object({ bucket: 'boot', key }), key).toThrow('key must not contain a ".." segment');
    }
    // Dots inside a segment are ordinary key characters.
    for (const key of ['a..b', '...', 'a/.../b', '.hidden']) {
      expect(() => s3Object({ bucket: 'boot', key }), key).not.toThrow();
    }
  });

  test('s3Object: versionId, when given, is a non-empty string; a missing ref is refused', () => {
    expect(() => s3Object({ bucket: 'boot', key: 'k', versionId: '' })).toThrow('versionId must be a non-empty string');
    expect(() => s3Object({ bucket: 'boot', key: 'k', versionId: 7 as unknown as string })).toThrow('versionId must be a non-empty string, got 7');
    expect(() => s3Object(undefined as never)).toThrow('s3Object(): give { bucket, key }, got undefined');
    expect(() => s3Object(null as never)).toThrow('give { bucket, key }, got null');
  });

  test('responseProblem: checks a hand-built object response with the same rules', () => {
    expect(responseProblem(s3Object({ bucket: 'boot', key: 'k' }))).toBeUndefined();
    expect(isResponse({ kind: 'object', bucket: 'boot', key: 'k', versionId: undefined })).toBe(true);
    expect(responseProblem({ kind: 'object', bucket: 'BOOT', key: 'k' })).toBe('object response: bucket must be a valid bucket name, got a string');
    expect(responseProblem({ kind: 'object', bucket: 'boot', key: 'a/../b' })).toBe('object response: key must not contain a ".." segment, got a string');
    expect(responseProblem({ kind: 'object', bucket: 'boot' })).toBe('object response: key must be a non-empty string of at most 1024 bytes, got undefined');
    expect(responseProblem({ kind: 'object', bucket: 'boot', key: 'k', versionId: '' })).toMatch(/^object response: versionId/);
    expect(responseProblem('boot/k')).toMatch(/s3Object/);
  });
});

describe('kvBinding', () => {
  test('kv: text, bytes and JSON round-trip; text and bytes are stored as they are', async () => {
    const { kv, map } = mapKv();
    await kv.set('t', 'héllo');
    expect(await kv.get('t')).toBe('héllo');
    expect(Buffer.from(map.get('t')!).toString()).toBe('héllo');

    const all = Uint8Array.from({ length: 256 }, (_, i) => i);
    await kv.set('b', all);
    expect([...(await kv.getBytes('b'))!]).toEqual([...all]);

    const profile = { hostname: 'web01', kernel: '/k', initrd: ['/a', '/b'], menuTimeout: 0 };
    await kv.set('j', profile);
    expect(await kv.getJson('j')).toEqual(profile);
    expect(await kv.get('j')).toBe(JSON.stringify(profile));
    await kv.set('n', 42);
    await kv.set('f', false);
    expect([await kv.getJson('n'), await kv.getJson('f')]).toEqual([42, false]);
    // A string set is text, not JSON: getJson parses what is stored.
    await kv.set('s', '{"a":1}');
    expect(await kv.getJson('s')).toEqual({ a: 1 });
  });

  test('kv: absent keys are undefined for every getter; delete removes', async () => {
    const { kv } = mapKv();
    expect([await kv.get('x'), await kv.getBytes('x'), await kv.getJson('x')]).toEqual([undefined, undefined, undefined]);
    await kv.set('x', 'v');
    await kv.delete('x');
    expect(await kv.get('x')).toBeUndefined();
    await expect(kv.delete('never-set')).resolves.toBeUndefined();
  });

  test('kv: getJson on a value that is not JSON throws', async () => {
    const { kv } = mapKv();
    await kv.set('bad', 'not json');
    await expect(kv.getJson('bad')).rejects.toThrow(SyntaxError);
  });

  test('kv: ttl is passed on in whole seconds, rounded up; a ttl that is not positive is refused', async () => {
    const { kv, ttls, map } = mapKv();
    await kv.set('a', 'v', { ttl: 60 });
    await kv.set('b', 'v', { ttl: 0.2 });
    await kv.set('c', 'v');
    expect([ttls.get('a'), ttls.get('b'), ttls.get('c')]).toEqual([60, 1, undefined]);
    for (const ttl of [0, -1, Number.NaN, Number.POSITIVE_INFINITY, '60' as unknown as number]) {
      await expect(kv.set('d', 'v', { ttl }), String(ttl)).rejects.toThrow('env.kv.set: ttl is a finite number of seconds greater than 0');
    }
    expect(map.has('d')).toBe(false);
  });

  test('kv: a key is a non-empty string of at most 512 characters, for every method', async () => {
    const { kv, map } = mapKv();
    await kv.set('k'.repeat(512), 'v');
    expect(await kv.get('k'.repeat(512))).toBe('v');
    for (const key of ['', 'k'.repeat(513), 7 as unknown as string, undefined as unknown as string]) {
      await expect(kv.get(key)).rejects.toThrow(/env\.kv: a key is a non-empty string of at most 512 characters/);
      await expect(kv.getJson(key)).rejects.toThrow(TypeError);
      await expect(kv.set(key, 'v')).rejects.toThrow(TypeError);
      // getBytes and delete throw synchronously rather than rejecting (reported); awaited, both fail alike.
      await expect((async () => kv.delete(key))()).rejects.toThrow(TypeError);
      await expect((async () => kv.getBytes(key))()).rejects.toThrow(TypeError);
    }
    expect(map.size).toBe(1);
  });
});

describe('cached', () => {
  afterEach(() => setCacheBackend(undefined));

  test('cached: a hit returns the stored value without calling the producer', async () => {
    const key = freshKey('hit');
    let runs = 0;
    const producer = () => `rendered ${++runs}`;
    expect(await cached(key, producer, { ttl: 60 })).toBe('rendered 1');
    expect(await cached(key, producer, { ttl: 60 })).toBe('rendered 1');
    expect(runs).toBe(1);
  });

  test('cached: concurrent calls for one key share one producer run', async () => {
    const key = freshKey('concurrent');
    let runs = 0;
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const producer = async () => {
      runs++;
      await gate;
      return { n: runs };
    };
    const all = Promise.all(Array.from({ length: 10 }, () => cached(key, producer, { ttl: 60 })));
    // Let every call get past its cache lookup before the producer finishes.
    await new Promise((r) => setTimeout(r, 10));
    release();
    expect(await all).toEqual(Array.from({ length: 10 }, () => ({ n: 1 })));
    expect(runs).toBe(1);
  });

  test('cached: strings, bytes and JSON come back from the store with their types kept', async () => {
    const { backend } = countingBackend();
    setCacheBackend(backend);
    const values: [string, string | Uint8Array | number | boolean | object][] = [
      ['string', 'set timeout=5\n'],
      ['json-looking string', '{"a":1}'],
      ['empty string', ''],
      ['bytes', Uint8Array.from([0, 1, 254, 255])],
      ['number', 42],
      ['boolean', false],
      ['object', { hostname: 'web01', initrd: ['/a'] }],
      ['array', [1, 'two']],
    ];
    for (const [what, value] of values) {
      const key = freshKey(what);
      await cached(key, () => value, { ttl: 60 });
      // The second call is served from the store: it must not run its producer.
      const again = await cached(key, () => { throw new Error(`${what}: producer ran on a hit`); }, { ttl: 60 });
      expect(again, what).toEqual(value);
      expect(typeof again, what).toBe(typeof value);
      expect((again as unknown) instanceof Uint8Array, what).toBe((value as unknown) instanceof Uint8Array);
    }
  });

  test('cached: ttl is required and positive; the key is a non-empty string; nothing to cache is an error', async () => {
    const producer = () => 'v';
    await expect(cached(freshKey('t'), producer, undefined as never)).rejects.toThrow('cached(): give { ttl } in seconds, finite and greater than 0');
    await expect(cached(freshKey('t'), producer, {} as never)).rejects.toThrow(TypeError);
    await expect(cached(freshKey('t'), producer, { ttl: 0 })).rejects.toThrow(TypeError);
    await expect(cached(freshKey('t'), producer, { ttl: -5 })).rejects.toThrow(TypeError);
    await expect(cached('', producer, { ttl: 60 })).rejects.toThrow('cached(): key must be a non-empty string');
    await expect(cached(freshKey('u'), () => undefined as never, { ttl: 60 })).rejects.toThrow('the producer returned nothing to cache');
  });

  test('setCacheBackend: cached() reads and writes through the backend, ttl in whole seconds', async () => {
    const { backend, calls, map } = countingBackend();
    setCacheBackend(backend);
    const key = freshKey('backend');
    await cached(key, () => 'v', { ttl: 2.5 });
    expect(calls).toEqual({ get: 1, set: 1 });
    expect(map.get(key)?.ttl).toBe(3);
    // One tag byte ('s' for a string) ahead of the UTF-8 text.
    expect(Buffer.from(map.get(key)!.value).toString()).toBe('sv');
    await cached(key, () => 'w', { ttl: 2.5 });
    expect(calls).toEqual({ get: 2, set: 1 });
    // Back to the built-in fallback: the key is not there.
    setCacheBackend(undefined);
    expect(await cached(key, () => 'fallback', { ttl: 60 })).toBe('fallback');
  });

  test('setCacheBackend: a store that is down (misses, drops writes) means the producer runs every time', async () => {
    let runs = 0;
    setCacheBackend({ get: async () => undefined, set: async () => undefined });
    const key = freshKey('down');
    for (let i = 1; i <= 3; i++) expect(await cached(key, () => `run ${++runs}`, { ttl: 60 })).toBe(`run ${i}`);
    expect(runs).toBe(3);
  });

  test('cached: a producer that throws rejects every waiter, and the next call runs it again', async () => {
    const key = freshKey('throws');
    let runs = 0;
    const failing = async () => {
      runs++;
      throw new Error('upstream down');
    };
    const both = await Promise.allSettled([cached(key, failing, { ttl: 60 }), cached(key, failing, { ttl: 60 })]);
    expect(both.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect(runs).toBe(1);
    expect(await cached(key, () => 'ok', { ttl: 60 })).toBe('ok');
  });
});

describe('invoke with s3Object', () => {
  let bucketsDir: string;
  beforeAll(async () => {
    bucketsDir = await mkdtemp(join(tmpdir(), 'tftpfn-buckets-'));
    await mkdir(join(bucketsDir, 'boot/fedora-40'), { recursive: true });
    await writeFile(join(bucketsDir, 'boot/fedora-40/vmlinuz'), Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0, 1, 2]));
  });
  afterAll(async () => {
    await rm(bucketsDir, { recursive: true, force: true });
  });

  test('invoke: an s3Object response is read from bucketsDir/BUCKET/KEY, its size as tsize', async () => {
    const result = await invoke(() => s3Object({ bucket: 'boot', key: 'fedora-40/vmlinuz' }), 'vmlinuz', {}, { bucketsDir });
    expect(result.errorCode).toBeUndefined();
    expect(result.response).toEqual({ kind: 'object', bucket: 'boot', key: 'fedora-40/vmlinuz', versionId: undefined });
    expect([...result.body]).toEqual([0x7f, 0x45, 0x4c, 0x46, 0, 1, 2]);
    expect([result.size, result.tsize]).toEqual([7, 7]);
  });

  test('invoke: a missing key, a missing bucket or a "folder" key is ERROR 1', async () => {
    for (const [bucket, key] of [['boot', 'missing'], ['nope', 'fedora-40/vmlinuz'], ['boot', 'fedora-40']]) {
      const result = await invoke(() => s3Object({ bucket, key }), 'x', {}, { bucketsDir });
      expect([bucket, key, result.errorCode, result.errorMessage, result.size]).toEqual([bucket, key, 1, 'file not found', 0]);
    }
  });

  test('invoke: an s3Object() that throws (a bad bucket name) is ERROR 0 with the reason in thrown', async () => {
    const result = await invoke(() => s3Object({ bucket: 'Bad_Bucket', key: 'k' }), 'x', {}, { bucketsDir });
    expect([result.errorCode, result.errorMessage]).toEqual([0, 'internal error']);
    expect((result.thrown as Error).message).toMatch(/bucket must be a valid bucket name/);
  });

  test('invoke: env.kv defaults to a fresh in-memory store; a given one is shared between calls', async () => {
    const { kv } = mapKv();
    const writer: Handler = async (_r, env) => {
      await env.kv.set('seen', 'yes');
      return s3Object({ bucket: 'boot', key: 'fedora-40/vmlinuz' });
    };
    await invoke(writer, 'x', { kv }, { bucketsDir });
    expect(await kv.get('seen')).toBe('yes');
    const reader = await invoke(async (_r, env) => text(String(await env.kv.get('seen'))), 'x');
    expect(reader.body.toString()).toBe('undefined');
  });
});
