import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import {
  bytes,
  denied,
  error,
  file,
  invoke,
  notFound,
  stream,
  streamChunks,
  text,
  type FunctionEnv,
  type FunctionLogger,
  type FunctionRequest,
  type Handler,
} from '../../../sdk/index.js';

const enc = new TextEncoder();

async function* lines(n: number): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < n; i++) yield enc.encode(`line ${i}\n`);
}

describe('invoke: the request it builds', () => {
  it('invoke: fills defaults, normalises the path and parses the MAC', async () => {
    let seen: FunctionRequest | undefined;
    const result = await invoke((request) => {
      seen = request;
      return text('ok');
    }, { path: '//pxelinux.cfg/./01-AA-BB-CC-DD-EE-FF' });
    expect(seen).toMatchObject({
      kind: 'read',
      mode: 'octet',
      path: 'pxelinux.cfg/01-AA-BB-CC-DD-EE-FF',
      rawPath: '//pxelinux.cfg/./01-AA-BB-CC-DD-EE-FF',
      options: {},
      peer: { address: '192.0.2.10', port: 1234, family: 'IPv4' },
      local: { address: '192.0.2.1', port: 69, family: 'IPv4' },
      mac: 'aa:bb:cc:dd:ee:ff',
    });
    expect(seen?.id).toMatch(/^invoke-\d+$/);
    expect(result.request).toBe(seen);
  });

  it('invoke: takes a bare path string', async () => {
    const result = await invoke((r) => text(r.path), 'hello.txt');
    expect(result.body.toString()).toBe('hello.txt');
  });

  it('invoke: uses the given fields, and infers IPv6 from the peer address', async () => {
    let seen: FunctionRequest | undefined;
    await invoke((request) => ((seen = request), text('')), {
      path: 'x',
      kind: 'write',
      mode: 'netascii',
      options: { blksize: '1468', tsize: '0' },
      peer: { address: '2001:db8::7' },
      id: 'req-1',
      mac: '02:00:00:00:00:01',
    });
    expect(seen).toMatchObject({
      id: 'req-1',
      kind: 'write',
      mode: 'netascii',
      options: { blksize: '1468', tsize: '0' },
      peer: { address: '2001:db8::7', port: 1234, family: 'IPv6' },
      mac: '02:00:00:00:00:01',
    });
  });

  it('invoke: a path the gateway refuses never reaches the handler (ERROR 2)', async () => {
    let called = false;
    const result = await invoke(() => ((called = true), text('')), '../etc/passwd');
    expect(called).toBe(false);
    expect(result).toMatchObject({ errorCode: 2, errorMessage: 'access violation', response: undefined });
  });

  it('invoke: passes vars and secrets apart, and records log lines', async () => {
    const handle: Handler = (_request, env) => {
      env.log.info({ user: env.vars.USER }, 'rendering');
      env.log.warn('plain message');
      return text(`${env.vars.USER}:${env.secrets.TOKEN}`);
    };
    const result = await invoke(handle, 'x', { vars: { USER: 'ops' }, secrets: { TOKEN: 's3cr3t' } });
    expect(result.body.toString()).toBe('ops:s3cr3t');
    expect(result.logs).toEqual([
      { level: 'info', obj: { user: 'ops' }, msg: 'rendering' },
      { level: 'warn', obj: undefined, msg: 'plain message' },
    ]);
  });

  it('invoke: takes a pino logger as env.log', async () => {
    const log: FunctionLogger = pino({ level: 'silent' });
    const env: Partial<FunctionEnv> = { log };
    const result = await invoke((_r, e) => (e.log.debug({ a: 1 }, 'x'), text('')), 'x', env);
    expect(result.errorCode).toBeUndefined();
    expect(result.logs).toEqual([]);
  });
});

describe('invoke: responses', () => {
  it('invoke: text gives the bytes and their size as tsize', async () => {
    const result = await invoke(() => text('héllo'), 'x');
    expect(result.body.toString()).toBe('héllo');
    expect(result.size).toBe(6);
    expect(result.tsize).toBe(6);
    expect(result.errorCode).toBeUndefined();
    expect(result.response?.kind).toBe('bytes');
  });

  it('invoke: bytes from an async handler', async () => {
    const result = await invoke(async () => bytes(new Uint8Array([0, 1, 2])), 'x');
    expect([...result.body]).toEqual([0, 1, 2]);
    expect(result.tsize).toBe(3);
  });

  it('invoke: an async iterable stream is collected, without a tsize when none is declared', async () => {
    const result = await invoke(() => stream(lines(3)), 'x');
    expect(result.body.toString()).toBe('line 0\nline 1\nline 2\n');
    expect(result.size).toBe(21);
    expect(result.tsize).toBeUndefined();
    expect(result.errorCode).toBeUndefined();
  });

  it('invoke: a ReadableStream is collected, with its declared size', async () => {
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(enc.encode('ab'));
        controller.enqueue(enc.encode('cd'));
        controller.close();
      },
    });
    const result = await invoke(() => stream(body, { size: 4 }), 'x');
    expect(result.body.toString()).toBe('abcd');
    expect(result.tsize).toBe(4);
  });

  it('invoke: a stream that yields other than its declared size fails with ERROR 0', async () => {
    const result = await invoke(() => stream(lines(1), { size: 100 }), 'x');
    expect(result).toMatchObject({ errorCode: 0, errorMessage: 'internal error', tsize: 100, size: 7 });
    expect(String(result.thrown)).toMatch(/declared size 100 but produced 7 bytes/);
  });

  it('invoke: a stream longer than declared stops at the chunk that passes its size, as the gateway does', async () => {
    const result = await invoke(() => stream(lines(3), { size: 10 }), 'x');
    expect(result).toMatchObject({ errorCode: 0, errorMessage: 'internal error', tsize: 10, size: 7 });
    expect(result.body.toString()).toBe('line 0\n');
    expect(String(result.thrown)).toMatch(/declared size 10 but produced more bytes/);
  });

  it('invoke: a stream that re-yields one buffer, refilled, gives each chunk as it was when yielded', async () => {
    const buf = new Uint8Array(2);
    async function* refill(): AsyncGenerator<Uint8Array> {
      for (let i = 1; i <= 3; i++) yield buf.fill(i);
    }
    const result = await invoke(() => stream(refill(), { size: 6 }), 'x');
    expect([...result.body]).toEqual([1, 1, 2, 2, 3, 3]);
    expect(result.errorCode).toBeUndefined();
  });

  it('invoke: a stream that throws midway keeps the bytes so far, then ERROR 0', async () => {
    async function* failing(): AsyncGenerator<Uint8Array> {
      yield enc.encode('abc');
      throw new Error('database went away at 10.0.0.5');
    }
    const result = await invoke(() => stream(failing()), 'x');
    expect(result.body.toString()).toBe('abc');
    expect(result).toMatchObject({ errorCode: 0, errorMessage: 'internal error' });
    expect((result.thrown as Error).message).toBe('database went away at 10.0.0.5');
  });

  it('invoke: a stream chunk that is a string fails with ERROR 0 and says why', async () => {
    async function* strings(): AsyncGenerator<Uint8Array> {
      yield 'text' as unknown as Uint8Array;
    }
    const result = await invoke(() => stream(strings()), 'x');
    expect(result.errorCode).toBe(0);
    expect(String(result.thrown)).toMatch(/stream chunk 0 is a string/);
  });

  it.each([
    ['notFound', notFound(), 1, 'file not found'],
    ['notFound with a message', notFound('unknown machine'), 1, 'unknown machine'],
    ['denied', denied(), 2, 'access violation'],
    ['error', error(3, 'quota exceeded'), 3, 'quota exceeded'],
    ['error 8', error(8, 'no'), 8, 'no'],
  ])('invoke: %s gives its code and message', async (_what, response, code, message) => {
    const result = await invoke(() => response, 'x');
    expect(result).toMatchObject({ errorCode: code, errorMessage: message, size: 0 });
    expect(result.thrown).toBeUndefined();
    expect(result.response).toBe(response);
  });
});

describe('invoke: failures in user code', () => {
  it('invoke: a thrown error becomes ERROR 0 with a generic message; the cause stays in thrown', async () => {
    const boom = new Error('secret path /srv/inventory.json');
    const result = await invoke(() => {
      throw boom;
    }, 'x');
    expect(result).toMatchObject({ errorCode: 0, errorMessage: 'internal error', response: undefined, size: 0 });
    expect(result.thrown).toBe(boom);
  });

  it('invoke: a rejected promise is the same as a throw', async () => {
    const result = await invoke(async () => Promise.reject(new RangeError('nope')), 'x');
    expect(result).toMatchObject({ errorCode: 0, errorMessage: 'internal error' });
    expect(result.thrown).toBeInstanceOf(RangeError);
  });

  it('invoke: a thrown non-Error is still ERROR 0', async () => {
    const result = await invoke(() => {
      throw 'just a string';
    }, 'x');
    expect(result).toMatchObject({ errorCode: 0, errorMessage: 'internal error', thrown: 'just a string' });
  });

  it.each<[string, unknown]>([
    ['undefined', undefined],
    ['a string', 'hello'],
    ['a Buffer', Buffer.from('hello')],
    ['a bad object', { kind: 'bytes', body: 'hello', size: 5 }],
  ])('invoke: returning %s becomes ERROR 0 with the reason in thrown', async (_what, value) => {
    const result = await invoke((() => value) as unknown as Handler, 'x');
    expect(result).toMatchObject({ errorCode: 0, errorMessage: 'internal error', response: undefined });
    expect(result.thrown).toBeInstanceOf(TypeError);
    expect(String(result.thrown)).toMatch(/Response|body/);
  });
});

describe('invoke: file responses', () => {
  const root = mkdtempSync(join(tmpdir(), 'tftpfn-sdk-'));
  mkdirSync(join(root, 'boot'));
  writeFileSync(join(root, 'boot', 'grub.cfg'), 'set timeout=5\n');
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('invoke: a file is read from the given root, and its size is the tsize', async () => {
    const result = await invoke(() => file('boot/grub.cfg'), 'grub.cfg', {}, { root });
    expect(result.body.toString()).toBe('set timeout=5\n');
    expect(result.tsize).toBe(14);
  });

  it('invoke: a missing file or a folder is ERROR 1', async () => {
    expect((await invoke(() => file('boot/nope'), 'x', {}, { root })).errorCode).toBe(1);
    expect((await invoke(() => file('boot'), 'x', {}, { root })).errorCode).toBe(1);
  });
});

describe('streamChunks', () => {
  it('streamChunks: skips empty chunks', async () => {
    async function* withEmpty(): AsyncGenerator<Uint8Array> {
      yield new Uint8Array(0);
      yield new Uint8Array([1]);
      yield new Uint8Array(0);
    }
    const got: number[] = [];
    for await (const c of streamChunks(withEmpty())) got.push(c.byteLength);
    expect(got).toEqual([1]);
  });

  it('streamChunks: reads a reader-only stream (no async iterator)', async () => {
    const data = [enc.encode('a'), enc.encode('bc')];
    const readerOnly = {
      getReader: () => ({
        read: async () => (data.length ? { done: false, value: data.shift() } : { done: true, value: undefined }),
        releaseLock: () => {},
      }),
    } as unknown as ReadableStream<Uint8Array>;
    const got: string[] = [];
    for await (const c of streamChunks(readerOnly)) got.push(Buffer.from(c).toString());
    expect(got).toEqual(['a', 'bc']);
  });
});
