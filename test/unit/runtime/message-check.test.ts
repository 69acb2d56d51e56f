import { describe, expect, test } from 'vitest';
import { checkFromWorker, MESSAGE_LIMITS } from '../../../gateway/src/runtime/message-check.js';

const label = (m: unknown) => (m && typeof m === 'object' ? `${String((m as { t?: unknown }).t)} ${Object.keys(m).join(',')}` : String(m));
const ok = (m: unknown) => expect(typeof checkFromWorker(m), label(m)).toBe('object');
const bad = (m: unknown) => expect(typeof checkFromWorker(m), label(m)).toBe('string');

describe('messages from a worker', () => {
  test('every message an honest worker sends passes', () => {
    ok({ t: 'ready' });
    ok({ t: 'loadError', message: 'x' });
    ok({ t: 'pong', seq: 1 });
    ok({ t: 'bytes', id: 1, body: new Uint8Array(3) });
    ok({ t: 'error', id: 1, code: 1, message: 'no such machine' });
    ok({ t: 'file', id: 1, path: 'a/b.txt' });
    ok({ t: 'object', id: 1, bucket: 'b', key: 'k', versionId: undefined });
    ok({ t: 'kv', rpc: 1, op: 'get', key: 'k', value: undefined, ttl: undefined });
    ok({ t: 'kv', rpc: 2, op: 'cacheSet', key: 'k', value: new Uint8Array(1), ttl: 60 });
    ok({ t: 'stream', id: 1, size: undefined });
    ok({ t: 'chunk', id: 1, data: new Uint8Array(10) });
    ok({ t: 'end', id: 1 });
    ok({ t: 'fail', id: 1, reason: 'threw', message: 'boom', stack: undefined });
    ok({ t: 'log', id: undefined, level: 'info', obj: { a: 1 }, msg: 'hi' });
    ok({ t: 'log', id: 3, level: 'warn', obj: undefined, msg: undefined, dropped: 10 });
  });

  test('wrong shapes, unknown types and extra fields are refused', () => {
    for (const m of [null, 1, 'ready', [], { t: 'hello' }, { t: 'ready', extra: 1 }, { t: 'bytes', id: 1 }, { t: 'bytes', id: 0, body: new Uint8Array(1) }, { t: 'bytes', id: 1.5, body: new Uint8Array(1) }, { t: 'bytes', id: 1, body: 'text' }]) bad(m);
  });

  test('a kv call cannot name an unknown operation, an empty or huge key, or a bad ttl', () => {
    bad({ t: 'kv', rpc: 1, op: 'flushall', key: 'k' });
    bad({ t: 'kv', rpc: 1, op: 'get', key: '' });
    bad({ t: 'kv', rpc: 1, op: 'get', key: 'k'.repeat(MESSAGE_LIMITS.keyChars + 1) });
    bad({ t: 'kv', rpc: 1, op: 'set', key: 'k', value: new Uint8Array(1), ttl: -1 });
    bad({ t: 'kv', rpc: 1, op: 'set', key: 'k', value: new Uint8Array(1), ttl: Infinity });
    bad({ t: 'kv', rpc: 1, op: 'get', key: 42 });
  });

  test('error codes outside 0-8, NUL in texts, unknown fail reasons and log levels are refused', () => {
    bad({ t: 'error', id: 1, code: 9, message: 'x' });
    bad({ t: 'error', id: 1, code: 1, message: 'a\0b' });
    bad({ t: 'file', id: 1, path: 'a\0b' });
    bad({ t: 'fail', id: 1, reason: 'timeout', message: 'x' });
    bad({ t: 'log', id: 1, level: 'fatal', obj: undefined, msg: 'x' });
    bad({ t: 'log', id: 1, level: 'info', obj: undefined, msg: 'x'.repeat(MESSAGE_LIMITS.textChars + 1) });
  });

  test('a body over the limit is refused', () => {
    bad({ t: 'bytes', id: 1, body: new Uint8Array(MESSAGE_LIMITS.bodyBytes + 1) });
  });
});
