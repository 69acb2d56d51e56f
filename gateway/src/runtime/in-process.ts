/**
 * Runs a handler on the gateway's own thread: for embedders who pass `handle` to
 * createGateway and choose speed over isolation. Same contract and same checks as the
 * worker path (run-handler.ts: response validation, stream chunk checks; the declared stream
 * size; the wall-clock limit), but a synchronous infinite loop here would stall the gateway:
 * that is what workers are for.
 */
import type { Logger } from 'pino';
import type { FunctionLogger, FunctionRequest, Handler } from '../../../sdk/contract.js';
import { kvBinding } from '../../../sdk/kv-binding.js';
import { inProcessFunction } from './in-process-cache.js';
import type { ByteReader } from '../sources/types.js';
import { functionFailed } from './function-failure.js';
import { DeclaredSize, runHandler, type HandlerResult } from './run-handler.js';
import type { FunctionKv, FunctionResult, InvokeOpts, Invoker } from './invoker.js';
import { runWithLocalBody } from './body-local.js';

export interface InProcessOptions {
  readonly name: string;
  readonly timeoutMs: number;
  readonly vars?: Readonly<Record<string, string>>;
  readonly secrets?: Readonly<Record<string, string>>;
  readonly kv?: FunctionKv;
}

function withTimeout<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(functionFailed('timeout', `${what} did not answer within ${ms} ms`)), ms);
    work.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (e) => {
        clearTimeout(timer);
        reject(e);
      },
    );
  });
}

function asError(e: unknown): Error {
  return e instanceof Error ? e : new Error(String(e));
}

export class InProcessInvoker implements Invoker {
  private active = 0;

  constructor(private readonly handle: Handler, private readonly opts: InProcessOptions, private readonly log: Logger) {}

  get inflight(): number {
    return this.active;
  }

  async invoke(request: FunctionRequest, opts: InvokeOpts = {}): Promise<FunctionResult> {
    const log = this.log.child({ function: this.opts.name, id: request.id, event: 'functionLog' });
    const store = this.opts.kv;
    const kv = kvBinding({
      get: (key) => (store ? store('get', key, undefined, undefined) : Promise.resolve(undefined)),
      set: async (key, value, ttl) => void (await store?.('set', key, value, ttl)),
      del: async (key) => void (await store?.('del', key, undefined, undefined)),
    });
    const bindings = { vars: this.opts.vars ?? {}, secrets: this.opts.secrets ?? {}, log: log as unknown as FunctionLogger, kv };
    let ran;
    this.active++;
    try {
      // Run inside the function's async context, so cached() on this thread knows whose it is.
      const runIt = (req: FunctionRequest) => inProcessFunction(this.opts.name, this.opts.kv, () => runHandler(this.handle, req, bindings));
      if (opts.body) {
        // The limit covers the run up to its answer or its first read of the body (body-local.ts).
        let timedOut = false;
        const started = await withTimeout(
          runWithLocalBody(request, runIt, { timeoutMs: this.opts.timeoutMs, done: () => void (timedOut || this.active--) }),
          this.opts.timeoutMs,
          'handle()',
        ).catch((e: unknown) => {
          timedOut = true;
          throw e;
        });
        if (started.kind === 'body') return { kind: 'body', upload: started.upload };
        ran = started.ran;
      } else ran = await withTimeout(runIt(request), this.opts.timeoutMs, 'handle()');
    } catch (e) {
      // Only the time limit rejects: runHandler reports what user code does as a failure.
      this.active--;
      throw e;
    }
    if (!ran.ok) {
      this.active--;
      const err = asError(ran.thrown);
      throw ran.reason === 'threw' ? functionFailed('threw', err.message, err.stack) : functionFailed(ran.reason, err.message);
    }
    const r = ran.result;
    if (r.kind !== 'stream') this.active--;
    switch (r.kind) {
      case 'bytes':
        return { kind: 'bytes', body: r.body };
      case 'error':
        return { kind: 'error', code: r.code, message: r.message };
      case 'file':
        return { kind: 'file', path: r.path };
      case 'object':
        return { kind: 'object', ref: { bucket: r.bucket, key: r.key, ...(r.versionId ? { versionId: r.versionId } : {}) } };
      case 'put':
        return { kind: 'put', ref: { bucket: r.bucket, key: r.key }, contentType: r.contentType };
      case 'discard':
        return { kind: 'discard' };
      case 'accepted':
        return { kind: 'accepted' };
      case 'stream':
        return { kind: 'stream', reader: this.streamReader(r) };
    }
  }

  async close(): Promise<void> {}

  private streamReader(stream: Extract<HandlerResult, { kind: 'stream' }>): ByteReader {
    const iterator = stream.chunks;
    const declared = new DeclaredSize(stream.size);
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      this.active--;
    };
    const timeoutMs = this.opts.timeoutMs;
    return {
      size: stream.size,
      async read() {
        if (done) return null;
        let next;
        try {
          next = await withTimeout(iterator.next(), timeoutMs, 'the stream');
        } catch (e) {
          finish();
          if ((e as { code?: string }).code === 'TFTP_FUNCTION_FAILED') throw e;
          const err = asError(e);
          throw functionFailed('stream-threw', err.message, err.stack);
        }
        if (next.done) {
          finish();
          const wrongSize = declared.end();
          if (wrongSize) throw functionFailed('size-mismatch', wrongSize);
          return null;
        }
        const tooLong = declared.add(next.value.byteLength);
        if (tooLong) {
          finish();
          void iterator.return?.();
          throw functionFailed('size-mismatch', tooLong);
        }
        return next.value;
      },
      async close() {
        if (done) return;
        finish();
        await iterator.return?.().catch(() => {});
      },
    };
  }
}
