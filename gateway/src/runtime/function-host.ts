/**
 * The inside of a function's worker, whatever hosts it (a worker thread in the gateway process,
 * or a sandboxed child process): loads one bundle, then serves invocations over a channel.
 *
 * Everything user code can get wrong is caught here and reported as a `fail` for that one
 * invocation: a throw, a rejection, a return value that is not a Response, a bad stream
 * chunk. What cannot be caught here (an infinite loop, heap exhaustion, process.exit, an
 * uncaught exception from a timer) ends the worker, and the pool on the gateway side fails
 * or retries the invocations it held and starts a replacement.
 *
 * This side also trims what it sends to the limits the gateway enforces (log lines per
 * invocation, message sizes): not as a defence (user code shares this side, and the gateway
 * checks everything again) but so that a chatty function does not pay for lines that would
 * be dropped anyway.
 */
import { pathToFileURL } from 'node:url';
import { format } from 'node:util';
import { performance } from 'node:perf_hooks';
import type { FunctionLogger, FunctionRequest, Handler } from '../../../sdk/contract.js';
import { setCacheBackend } from '../../../sdk/cached.js';
import { kvBinding } from '../../../sdk/kv-binding.js';
import type { FailureKind } from '../errors/function-failure.js';
import { MESSAGE_LIMITS } from './message-check.js';
import { exportedHandle, runHandler } from './run-handler.js';
import { BodyInbox } from './body-inbox.js';
import type { FromWorker, KvOp, ToWorker, WorkerBoot } from './worker-protocol.js';

/** How the host talks to the gateway. */
export interface HostChannel {
  post(msg: FromWorker, transfer?: ArrayBuffer[]): void;
  onMessage(handler: (msg: ToWorker) => void): void;
  /** post() copies a message's bytes before it returns (the sandbox pipe encodes them into a frame). */
  readonly copiesOnPost?: boolean;
}

/** A view that owns its whole ArrayBuffer can be transferred; anything else is copied first. */
function transferable(bytes: Uint8Array): Uint8Array {
  const whole = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength && bytes.buffer instanceof ArrayBuffer;
  return whole ? bytes : new Uint8Array(bytes);
}

function clip(s: string, max: number): string {
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}

function cloneable(obj: unknown): unknown {
  if (obj === undefined || obj === null || typeof obj !== 'object') return obj;
  let json: string;
  try {
    structuredClone(obj);
    json = JSON.stringify(obj) ?? '';
    if (json.length <= MESSAGE_LIMITS.textChars) return obj;
  } catch {
    // Functions, class instances with methods, sockets...: keep what JSON can say about it.
    try {
      json = JSON.stringify(obj) ?? '';
      if (json.length <= MESSAGE_LIMITS.textChars) return JSON.parse(json) as unknown;
    } catch {
      return { unserializable: clip(String(obj), 256) };
    }
  }
  return { truncated: `${json.length} characters of JSON, more than ${MESSAGE_LIMITS.textChars}` };
}

export async function runFunctionHost(boot: WorkerBoot, channel: HostChannel): Promise<void> {
  const post = (msg: FromWorker, transfer?: ArrayBuffer[]) => channel.post(msg, transfer);

  // Lines per invocation, mirrored from the gateway's limits (see log-limiter.ts).
  const logBudgets = new Map<number, { lines: number; bytes: number; dropped: number }>();
  // Lines outside invocations (console output, module-level logging): a bucket per second.
  let strayTokens = boot.log.linesPerSecond;
  let strayRefilledAt = performance.now();
  let strayDropped = 0;
  function logLine(id: number | undefined, level: 'debug' | 'info' | 'warn' | 'error', obj: unknown, msg: string | undefined): void {
    if (id === undefined || !logBudgets.has(id)) {
      const now = performance.now();
      strayTokens = Math.min(boot.log.linesPerSecond, strayTokens + ((now - strayRefilledAt) * boot.log.linesPerSecond) / 1000);
      strayRefilledAt = now;
      if (strayTokens < 1) {
        strayDropped++;
        return;
      }
      strayTokens--;
      if (strayDropped > 0) {
        post({ t: 'log', id: undefined, level: 'warn', obj: undefined, msg: undefined, dropped: strayDropped });
        strayDropped = 0;
      }
    } else {
      const b = logBudgets.get(id);
      if (b) {
        const bytes = msg?.length ?? 0;
        if (b.lines >= boot.log.linesPerInvocation || b.bytes + bytes > boot.log.bytesPerInvocation) {
          b.dropped++;
          return;
        }
        b.lines++;
        b.bytes += bytes;
      }
    }
    post({ t: 'log', id, level, obj: cloneable(obj), msg: msg === undefined ? undefined : clip(msg, MESSAGE_LIMITS.textChars) });
  }
  /** Reports the lines this side dropped, just before the invocation's answer. */
  function endLog(id: number): void {
    const b = logBudgets.get(id);
    logBudgets.delete(id);
    if (b && b.dropped > 0) post({ t: 'log', id, level: 'warn', obj: undefined, msg: undefined, dropped: b.dropped });
  }

  if (boot.captureConsole) {
    // console output becomes log lines under the same limits, instead of a pipe that a flood
    // would fill faster than the gateway reads it.
    const out = (level: 'debug' | 'info' | 'warn' | 'error') => (...args: unknown[]) => logLine(undefined, level, undefined, format(...args));
    console.log = console.info = out('info');
    console.debug = console.trace = out('debug');
    console.warn = out('warn');
    console.error = out('error');
  }

  function logger(id: number | undefined): FunctionLogger {
    const at = (level: 'debug' | 'info' | 'warn' | 'error') =>
      ((objOrMsg: object | string, msg?: string) => {
        if (typeof objOrMsg === 'string') logLine(id, level, undefined, objOrMsg);
        else logLine(id, level, objOrMsg, typeof msg === 'string' ? msg : undefined);
      }) as FunctionLogger['info'];
    return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
  }

  // env.kv and cached() ask the gateway, which owns the store (and its credentials).
  let nextRpc = 1;
  const rpcs = new Map<number, (value: Uint8Array | undefined) => void>();
  function kvCall(op: KvOp, key: string, value?: Uint8Array, ttl?: number): Promise<Uint8Array | undefined> {
    if (key.length > MESSAGE_LIMITS.keyChars) return Promise.reject(new TypeError(`a key is at most ${MESSAGE_LIMITS.keyChars} characters`));
    if (value && value.byteLength > MESSAGE_LIMITS.valueBytes) return Promise.reject(new TypeError(`a value is at most ${MESSAGE_LIMITS.valueBytes} bytes`));
    return new Promise((resolve) => {
      const rpc = nextRpc++;
      rpcs.set(rpc, resolve);
      post({ t: 'kv', rpc, op, key, value, ttl });
    });
  }
  const kv = kvBinding({
    get: (key) => kvCall('get', key),
    set: async (key, value, ttl) => void (await kvCall('set', key, value, ttl)),
    del: async (key) => void (await kvCall('del', key)),
  });
  setCacheBackend({
    get: (key) => kvCall('cacheGet', key),
    set: async (key, value, ttl) => void (await kvCall('cacheSet', key, value, ttl)),
  });

  function fail(id: number, reason: FailureKind, e: unknown): void {
    const err = e instanceof Error ? e : new Error(String(e));
    endLog(id);
    post({ t: 'fail', id, reason, message: clip(String(err.message), MESSAGE_LIMITS.textChars), stack: err.stack === undefined ? undefined : clip(String(err.stack), MESSAGE_LIMITS.stackChars) });
  }

  interface OpenStream {
    readonly iterator: AsyncIterator<Uint8Array>;
    credit: number;
    pumping: boolean;
    cancelled: boolean;
  }
  const streams = new Map<number, OpenStream>();

  /** Sends chunks while the gateway has granted credit for them. */
  async function pump(id: number, s: OpenStream): Promise<void> {
    if (s.pumping) return;
    s.pumping = true;
    try {
      while (s.credit > 0 && !s.cancelled) {
        let next;
        try {
          next = await s.iterator.next();
        } catch (e) {
          streams.delete(id);
          fail(id, 'stream-threw', e);
          return;
        }
        if (s.cancelled) return;
        if (next.done) {
          streams.delete(id);
          endLog(id);
          post({ t: 'end', id });
          return;
        }
        const data = channel.copiesOnPost ? next.value : transferable(next.value);
        s.credit -= data.byteLength;
        post({ t: 'chunk', id, data }, [data.buffer as ArrayBuffer]);
      }
    } finally {
      s.pumping = false;
    }
  }

  // Uploads the function reads itself (request.body), by invocation id (body-channel.ts).
  const bodies = new Map<number, BodyInbox>();

  async function run(handle: Handler, id: number, request: FunctionRequest, withBody: boolean): Promise<void> {
    logBudgets.set(id, { lines: 0, bytes: 0, dropped: 0 });
    let inbox: BodyInbox | undefined;
    if (withBody) {
      inbox = new BodyInbox({ credit: (bytes) => post({ t: 'bodyCredit', id, bytes }) });
      bodies.set(id, inbox);
      request = { ...request, body: inbox.body };
    }
    const ran = await runHandler(handle, request, { vars: boot.vars, secrets: boot.secrets, log: logger(id), kv }, { copyChunks: !channel.copiesOnPost });
    if (inbox) {
      inbox.close();
      bodies.delete(id);
    }
    if (!ran.ok) return fail(id, ran.reason, ran.thrown);
    const r = ran.result;
    if (r.kind !== 'stream') endLog(id);
    switch (r.kind) {
      case 'bytes': {
        const body = transferable(r.body);
        return post({ t: 'bytes', id, body }, [body.buffer as ArrayBuffer]);
      }
      case 'error':
        return post({ t: 'error', id, code: r.code, message: clip(r.message, MESSAGE_LIMITS.textChars) });
      case 'file':
        return post({ t: 'file', id, path: r.path });
      case 'object':
        return post({ t: 'object', id, bucket: r.bucket, key: r.key, versionId: r.versionId });
      case 'put':
        return post({ t: 'put', id, bucket: r.bucket, key: r.key, contentType: r.contentType });
      case 'discard':
        return post({ t: 'discard', id });
      case 'accepted':
        return post({ t: 'accepted', id });
      case 'stream': {
        const s: OpenStream = { iterator: r.chunks, credit: 0, pumping: false, cancelled: false };
        streams.set(id, s);
        return post({ t: 'stream', id, size: r.size });
      }
    }
  }

  function cancel(id: number): void {
    logBudgets.delete(id);
    // The gateway gave up on the call: a body still being read ends for the function too.
    bodies.get(id)?.onAbort('failed');
    const s = streams.get(id);
    if (!s) return;
    streams.delete(id);
    s.cancelled = true;
    // Lets the author's generator run its finally blocks (close files, sockets).
    void Promise.resolve()
      .then(() => s.iterator.return?.())
      .catch(() => {});
  }

  // A promise user code forgot about must not take every invocation on this worker with it.
  process.on('unhandledRejection', (e) => {
    const err = e instanceof Error ? e : new Error(String(e));
    logLine(undefined, 'error', { err: { message: clip(String(err.message), 4096), stack: err.stack && clip(String(err.stack), 4096) } }, 'unhandled rejection in function code');
  });

  let handle: Handler | undefined;
  try {
    const mod = (await import(pathToFileURL(boot.bundlePath).href)) as Record<string, unknown>;
    handle = exportedHandle(mod);
    if (!handle) post({ t: 'loadError', message: `${boot.name}@${boot.version}: the module exports no handle function (export const handle = ...)` });
  } catch (e) {
    const err = e instanceof Error ? e : new Error(String(e));
    post({ t: 'loadError', message: clip(`${boot.name}@${boot.version}: loading the bundle threw: ${err.stack ?? err.message}`, MESSAGE_LIMITS.textChars) });
  }
  if (!handle) return;

  const h = handle;
  channel.onMessage((msg: ToWorker) => {
    switch (msg.t) {
      case 'invoke':
        void run(h, msg.id, msg.request, msg.body === true);
        return;
      case 'bodyChunk':
        return bodies.get(msg.id)?.onChunk(msg.data);
      case 'bodyEnd':
        return bodies.get(msg.id)?.onEnd();
      case 'bodyAbort':
        return bodies.get(msg.id)?.onAbort(msg.reason);
      case 'credit': {
        const s = streams.get(msg.id);
        if (!s) return;
        s.credit += msg.bytes;
        void pump(msg.id, s);
        return;
      }
      case 'cancel':
        return cancel(msg.id);
      case 'ping':
        return post({ t: 'pong', seq: msg.seq });
      case 'kvResult': {
        const resolve = rpcs.get(msg.rpc);
        rpcs.delete(msg.rpc);
        return resolve?.(msg.value);
      }
    }
  });
  post({ t: 'ready' });
}
