/**
 * Runs a handler on the gateway's own thread: for embedders who pass `handle` to
 * createGateway and choose speed over isolation. Same contract and same checks as the
 * worker path (response validation, declared stream sizes, the wall-clock limit), but a
 * synchronous infinite loop here would stall the gateway: that is what workers are for.
 */
import type { Logger } from 'pino';
import type { FunctionEnv, FunctionLogger, FunctionRequest, Handler } from '../../../sdk/contract.js';
import { responseProblem, type Response } from '../../../sdk/response.js';
import { streamChunks } from '../../../sdk/stream-chunks.js';
import type { ByteReader } from '../sources/types.js';
import { functionFailed } from './function-failure.js';
import type { FunctionResult, Invoker } from './worker-pool.js';

export interface InProcessOptions {
  readonly name: string;
  readonly timeoutMs: number;
  readonly vars?: Readonly<Record<string, string>>;
  readonly secrets?: Readonly<Record<string, string>>;
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

  async invoke(request: FunctionRequest): Promise<FunctionResult> {
    const log = this.log.child({ function: this.opts.name, id: request.id, event: 'functionLog' });
    const env: FunctionEnv = { vars: this.opts.vars ?? {}, secrets: this.opts.secrets ?? {}, log: log as unknown as FunctionLogger };
    let response: unknown;
    this.active++;
    try {
      response = await withTimeout(Promise.resolve().then(() => this.handle(request, env)), this.opts.timeoutMs, 'handle()');
    } catch (e) {
      this.active--;
      if ((e as { code?: string }).code === 'TFTP_FUNCTION_FAILED') throw e;
      const err = asError(e);
      throw functionFailed('threw', err.message, err.stack);
    }
    const problem = responseProblem(response);
    if (problem) {
      this.active--;
      throw functionFailed('bad-response', problem);
    }
    const r = response as Response;
    if (r.kind !== 'stream') this.active--;
    switch (r.kind) {
      case 'bytes':
        return { kind: 'bytes', body: r.body };
      case 'error':
        return { kind: 'error', code: r.code, message: r.message };
      case 'file':
        return { kind: 'file', path: r.path };
      case 'stream':
        return { kind: 'stream', reader: this.streamReader(r.body, r.size) };
    }
  }

  async close(): Promise<void> {}

  private streamReader(body: Extract<Response, { kind: 'stream' }>['body'], size: number | undefined): ByteReader {
    const iterator = streamChunks(body)[Symbol.asyncIterator]();
    let received = 0;
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      this.active--;
    };
    const timeoutMs = this.opts.timeoutMs;
    return {
      size,
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
          if (size !== undefined && received !== size) throw functionFailed('size-mismatch', `stream declared size ${size} but produced ${received} bytes`);
          return null;
        }
        received += next.value.byteLength;
        if (size !== undefined && received > size) {
          finish();
          void iterator.return?.();
          throw functionFailed('size-mismatch', `stream declared size ${size} but produced more bytes`);
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
