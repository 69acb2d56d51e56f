/**
 * Checks every message a function's worker sends before the gateway acts on it.
 *
 * The worker runs user code: whatever arrives on its channel may have been forged (a sandboxed
 * process can write raw frames to its end of the pipe). So a message is accepted only when it
 * has exactly a known shape with bounded sizes; anything else is a protocol violation, and the
 * pool kills the worker. Whether an `id` names a call the gateway issued to that worker is
 * checked by the pool (it owns the table); an unknown id is dropped there.
 *
 * A field whose value may be undefined is optional: the pipe of a sandboxed process carries
 * JSON, which drops such fields.
 */
import { WORKER_FAILURES, type FromWorker, type KvOp } from './worker-protocol.js';

/** Limits on what one message may carry. */
export const MESSAGE_LIMITS = {
  /** One frame on the pipe of a sandboxed process: a bytes() body and its envelope. */
  frameBytes: 64 * 1024 * 1024 + 64 * 1024,
  /** A bytes() body; larger generated content is a stream(). */
  bodyBytes: 64 * 1024 * 1024,
  /** A key of env.kv or cached(). */
  keyChars: 1024,
  /** A value written with env.kv.set or cached(). */
  valueBytes: 16 * 1024 * 1024,
  /** Text the gateway keeps from an error message, a log message or a load error. */
  textChars: 64 * 1024,
  /** A stack trace. */
  stackChars: 16 * 1024,
  /** A path or an object key in a response. */
  pathChars: 4096,
} as const;

const KV_OPS: ReadonlySet<string> = new Set<KvOp>(['get', 'set', 'del', 'cacheGet', 'cacheSet']);
const LEVELS: ReadonlySet<string> = new Set(['debug', 'info', 'warn', 'error']);
const FAIL_REASONS: ReadonlySet<string> = new Set(WORKER_FAILURES);

type Msg = Record<string, unknown>;

const isId = (x: unknown): x is number => typeof x === 'number' && Number.isSafeInteger(x) && x > 0;
const isCount = (x: unknown): x is number => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;
const isText = (x: unknown, max: number): x is string => typeof x === 'string' && x.length <= max;
const isBytes = (x: unknown, max: number): x is Uint8Array => x instanceof Uint8Array && x.byteLength <= max;
const optional = (x: unknown, check: (v: unknown) => boolean) => x === undefined || check(x);

/** True when `m` has exactly the listed keys (optional ones may be missing). */
function keys(m: Msg, required: readonly string[], optionalKeys: readonly string[] = []): boolean {
  for (const k of required) if (!(k in m)) return false;
  for (const k of Object.keys(m)) if (k !== 't' && !required.includes(k) && !optionalKeys.includes(k)) return false;
  return true;
}

/**
 * The message as a FromWorker, or a string saying what is wrong with it.
 * The returned value is the same object: the checks make the type assertion true.
 */
export function checkFromWorker(raw: unknown): FromWorker | string {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return 'a message is an object';
  const m = raw as Msg;
  const ok = (required: readonly string[], optionalKeys: readonly string[], valid: boolean) =>
    keys(m, required, optionalKeys) && valid ? (m as unknown as FromWorker) : `malformed "${String(m.t).slice(0, 32)}" message`;
  switch (m.t) {
    case 'ready':
      return ok([], [], true);
    case 'loadError':
      return ok(['message'], [], isText(m.message, MESSAGE_LIMITS.textChars));
    case 'pong':
      return ok(['seq'], [], isId(m.seq));
    case 'bytes':
      return ok(['id', 'body'], [], isId(m.id) && isBytes(m.body, MESSAGE_LIMITS.bodyBytes));
    case 'error':
      return ok(['id', 'code', 'message'], [], isId(m.id) && Number.isInteger(m.code) && (m.code as number) >= 0 && (m.code as number) <= 8 && isText(m.message, MESSAGE_LIMITS.textChars) && !(m.message as string).includes('\0'));
    case 'file':
      return ok(['id', 'path'], [], isId(m.id) && isText(m.path, MESSAGE_LIMITS.pathChars) && !(m.path as string).includes('\0'));
    case 'object':
      return ok(['id', 'bucket', 'key'], ['versionId'], isId(m.id) && isText(m.bucket, 255) && isText(m.key, MESSAGE_LIMITS.pathChars) && optional(m.versionId, (v) => isText(v, 1024)));
    case 'put':
      return ok(['id', 'bucket', 'key'], ['contentType'], isId(m.id) && isText(m.bucket, 255) && isText(m.key, MESSAGE_LIMITS.pathChars) && optional(m.contentType, (v) => isText(v, 255)));
    case 'discard':
      return ok(['id'], [], isId(m.id));
    case 'accepted':
      return ok(['id'], [], isId(m.id));
    case 'bodyCredit':
      return ok(['id', 'bytes'], [], isId(m.id) && isId(m.bytes));
    case 'kv':
      return ok(
        ['rpc', 'op', 'key'],
        ['value', 'ttl'],
        isId(m.rpc) &&
          typeof m.op === 'string' &&
          KV_OPS.has(m.op) &&
          isText(m.key, MESSAGE_LIMITS.keyChars) &&
          m.key !== '' &&
          optional(m.value, (v) => isBytes(v, MESSAGE_LIMITS.valueBytes)) &&
          optional(m.ttl, (v) => isId(v) && (v as number) <= 2 ** 31),
      );
    case 'stream':
      return ok(['id'], ['size'], isId(m.id) && optional(m.size, isCount));
    case 'chunk':
      return ok(['id', 'data'], [], isId(m.id) && isBytes(m.data, MESSAGE_LIMITS.bodyBytes));
    case 'end':
      return ok(['id'], [], isId(m.id));
    case 'fail':
      return ok(['id', 'reason', 'message'], ['stack'], isId(m.id) && typeof m.reason === 'string' && FAIL_REASONS.has(m.reason) && isText(m.message, MESSAGE_LIMITS.textChars) && optional(m.stack, (v) => isText(v, MESSAGE_LIMITS.stackChars)));
    case 'log':
      return ok(['level'], ['id', 'obj', 'msg', 'dropped'], optional(m.id, isId) && typeof m.level === 'string' && LEVELS.has(m.level) && optional(m.msg, (v) => isText(v, MESSAGE_LIMITS.textChars)) && optional(m.dropped, isCount));
    default:
      return 'a message of an unknown type';
  }
}
