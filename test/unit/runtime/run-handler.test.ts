/**
 * run-handler.ts: the one way user code is run (worker/sandbox host, in-process, sdk invoke).
 * Pure calls, no workers: what a handler does becomes a result or a failure of the one
 * vocabulary, stream chunks are checked and snapshotted, and a declared size is held to.
 */
import { describe, expect, test } from 'vitest';
import type { FunctionLogger, Handler } from '../../../sdk/contract.js';
import { kvBinding } from '../../../sdk/kv-binding.js';
import { file, notFound, s3Object, stream, text } from '../../../sdk/response.js';
import { DeclaredSize, exportedHandle, runHandler, type HandlerResult, type EnvBindings } from '../../../gateway/src/runtime/run-handler.js';
import { MESSAGE_LIMITS } from '../../../gateway/src/runtime/message-check.js';
import { fnRequest } from '../../helpers/functions.js';

const noLog: FunctionLogger = { debug() {}, info() {}, warn() {}, error() {} };
const bindings: EnvBindings = {
  vars: { SITE: 'lab' },
  secrets: { TOKEN: 't' },
  log: noLog,
  kv: kvBinding({ get: async () => undefined, set: async () => {}, del: async () => {} }),
};

async function collect(result: HandlerResult): Promise<Uint8Array[]> {
  if (result.kind !== 'stream') throw new Error(`expected a stream, got ${result.kind}`);
  const out: Uint8Array[] = [];
  for (let n = await result.chunks.next(); !n.done; n = await result.chunks.next()) out.push(n.value);
  return out;
}

describe('runHandler: answers', () => {
  test('runHandler: the handler gets the request and an env built from the bindings', async () => {
    const req = fnRequest('x');
    let seen: unknown;
    const ran = await runHandler((r, env) => ((seen = { r, vars: env.vars, token: env.secrets.TOKEN, kv: typeof env.kv.get }), text('ok')), req, bindings);
    expect(seen).toEqual({ r: req, vars: { SITE: 'lab' }, token: 't', kv: 'function' });
    expect(ran.ok && ran.result.kind === 'bytes' && Buffer.from(ran.result.body).toString()).toBe('ok');
  });

  test('runHandler: error, file and object answers come back as they are, with the response', async () => {
    const nf = notFound('no such machine');
    const a = await runHandler(() => nf, fnRequest('x'), bindings);
    expect(a).toEqual({ ok: true, response: nf, result: { kind: 'error', code: 1, message: 'no such machine' } });
    const b = await runHandler(() => file('boot/x'), fnRequest('x'), bindings);
    expect(b.ok && b.result).toEqual({ kind: 'file', path: 'boot/x' });
    const c = await runHandler(() => s3Object({ bucket: 'boot', key: 'k' }), fnRequest('x'), bindings);
    expect(c.ok && c.result).toEqual({ kind: 'object', bucket: 'boot', key: 'k', versionId: undefined });
  });
});

describe('runHandler: failures use the one vocabulary', () => {
  test('runHandler: a synchronous throw and a rejection are "threw", with what was thrown as it is', async () => {
    const boom = new Error('boom');
    expect(
      await runHandler(() => {
        throw boom;
      }, fnRequest('x'), bindings),
    ).toEqual({ ok: false, reason: 'threw', thrown: boom });
    expect(await runHandler(async () => Promise.reject('a string'), fnRequest('x'), bindings)).toEqual({ ok: false, reason: 'threw', thrown: 'a string' });
  });

  test('runHandler: a non-Response is "bad-response" with a TypeError saying why', async () => {
    const ran = await runHandler((() => 'hello') as unknown as Handler, fnRequest('x'), bindings);
    expect(ran.ok).toBe(false);
    if (ran.ok) return;
    expect(ran.reason).toBe('bad-response');
    expect(ran.thrown).toBeInstanceOf(TypeError);
    expect(String(ran.thrown)).toMatch(/a handler must return a Response/);
  });

  test('runHandler: a bytes body over the message limit is "bad-response" naming the limit, in every host', async () => {
    const body = new Uint8Array(MESSAGE_LIMITS.bodyBytes + 1);
    const ran = await runHandler(() => ({ kind: 'bytes', body, size: body.byteLength }), fnRequest('x'), bindings);
    expect(ran.ok).toBe(false);
    if (ran.ok) return;
    expect(ran.reason).toBe('bad-response');
    expect(String(ran.thrown)).toMatch(/a bytes\(\) body is at most 67108864 bytes \(got 67108865\); return stream\(\)/);
  });
});

describe('runHandler: stream chunks', () => {
  test('runHandler: a re-yielded, refilled buffer gives each chunk as it was when yielded, in a buffer of its own', async () => {
    const buf = new Uint8Array(4);
    const ran = await runHandler(
      () =>
        stream(
          (async function* () {
            for (let i = 1; i <= 3; i++) yield buf.fill(i);
          })(),
        ),
      fnRequest('x'),
      bindings,
    );
    expect(ran.ok).toBe(true);
    if (!ran.ok) return;
    const chunks = await collect(ran.result);
    expect(chunks.map((c) => [...c])).toEqual([[1, 1, 1, 1], [2, 2, 2, 2], [3, 3, 3, 3]]);
    // Whole buffers of their own: a thread host can transfer them without touching the author's.
    for (const c of chunks) expect(c.buffer).not.toBe(buf.buffer);
    expect(chunks.every((c) => c.byteOffset === 0 && c.byteLength === c.buffer.byteLength)).toBe(true);
  });

  test('runHandler: copyChunks false passes the author\'s chunks through (a host that copies on post)', async () => {
    const buf = new Uint8Array([9]);
    const ran = await runHandler(() => stream((async function* () { yield buf; })()), fnRequest('x'), bindings, { copyChunks: false });
    expect(ran.ok && (await collect(ran.result))[0]).toBe(buf);
  });

  test('runHandler: a chunk that is not a Uint8Array throws from the iterator, naming it', async () => {
    const ran = await runHandler(() => stream((async function* () { yield 'text' as unknown as Uint8Array; })()), fnRequest('x'), bindings);
    expect(ran.ok).toBe(true);
    if (!ran.ok) return;
    await expect(collect(ran.result)).rejects.toThrow(/stream chunk 0 is a string/);
  });

  test('runHandler: a chunk over the message limit throws from the iterator, naming the limit', async () => {
    const big = new Uint8Array(MESSAGE_LIMITS.bodyBytes + 1);
    const ran = await runHandler(() => stream((async function* () { yield big; })()), fnRequest('x'), bindings);
    expect(ran.ok).toBe(true);
    if (!ran.ok) return;
    await expect(collect(ran.result)).rejects.toThrow('a stream chunk is at most 67108864 bytes, got 67108865');
  });
});

describe('DeclaredSize and exportedHandle', () => {
  test('DeclaredSize: more bytes than declared fail at the chunk that passes it; fewer at the end', () => {
    const over = new DeclaredSize(10);
    expect(over.add(6)).toBeUndefined();
    expect(over.add(5)).toBe('stream declared size 10 but produced more bytes');
    const under = new DeclaredSize(10);
    expect(under.add(7)).toBeUndefined();
    expect(under.end()).toBe('stream declared size 10 but produced 7 bytes');
    const exact = new DeclaredSize(3);
    exact.add(3);
    expect(exact.end()).toBeUndefined();
    const none = new DeclaredSize(undefined);
    expect(none.add(1e9)).toBeUndefined();
    expect(none.end()).toBeUndefined();
  });

  test('exportedHandle: handle, a default function, or default.handle; else undefined', () => {
    const h: Handler = () => text('');
    expect(exportedHandle({ handle: h })).toBe(h);
    expect(exportedHandle({ default: h })).toBe(h);
    expect(exportedHandle({ default: { handle: h } })).toBe(h);
    expect(exportedHandle({ default: { other: h }, handle: 'no' })).toBeUndefined();
  });
});
