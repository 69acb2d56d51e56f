/**
 * What a worker's messages mean for the calls it holds, kept out of worker-pool.ts (which runs a
 * call's life: admission, the wall-clock limit, the retry after a crash, settling): the head
 * answers (bytes, error, file, object, put, discard, accepted) settle a call, a stream head
 * settles it with a reader that the chunks and end then feed, a `fail` fails it, a body call's
 * messages go to pool-body.ts, and log and kv messages to worker-logs.ts and worker-kv.ts.
 *
 *  - Answers are accepted only for calls this pool gave that worker; a late answer (to a call
 *    timed out or cancelled) is dropped.
 *  - A second head, a chunk without credit or for a non-stream is a protocol violation and kills
 *    the worker (the supervisor's `violation`).
 */
import type { Logger } from 'pino';
import { functionFailed } from './function-failure.js';
import type { FunctionResult } from './invoker.js';
import type { PoolSpec, PoolStats } from './pool-spec.js';
import { WorkerStreamReader } from './stream-reader.js';
import { bodyMessage, startBody, type PoolBodyHooks } from './pool-body.js';
import { relayKv } from './worker-kv.js';
import type { WorkerLogs } from './worker-logs.js';
import type { FromWorker, ToWorker } from './worker-protocol.js';
import type { Call, PooledWorker } from './call-scheduler.js';

/** What the answers need of the pool and its supervisor. */
export interface AnswerHooks {
  send(w: PooledWorker, msg: ToWorker): void;
  /** Settles the call (resolves or rejects invoke()) once; counts its latency. */
  settle(call: Call, result: FunctionResult | undefined, error?: unknown): void;
  /** The call no longer holds a concurrency slot or a place on its worker. */
  release(call: Call): void;
  /** The worker broke the protocol: kill it. */
  violation(w: PooledWorker, why: string): void;
  /** The worker missed a deadline: ping it, kill it if it cannot answer. */
  probe(w: PooledWorker): void;
}

export class WorkerAnswers {
  constructor(
    private readonly spec: PoolSpec,
    private readonly log: Logger,
    private readonly logs: WorkerLogs,
    private readonly stats: PoolStats,
    private readonly hooks: AnswerHooks,
  ) {}

  /** A checked message of a loaded worker other than ready, loadError and pong. */
  onMessage(w: PooledWorker, msg: FromWorker): void {
    if (msg.t === 'log') return this.onLog(w, msg);
    if (msg.t === 'kv') return this.onKv(w, msg);
    // ready, loadError and pong are the supervisor's (worker-supervisor.ts).
    if (msg.t === 'ready' || msg.t === 'loadError' || msg.t === 'pong') return;
    const call = w.calls.get(msg.id);
    if (!call) return; // timed out or cancelled: late answers are dropped
    if (call.body) return bodyMessage(call.body, msg, this.bodyHooks(w, call));
    if (msg.t === 'bodyCredit') {
      if (!call.withBody || call.headed) return this.hooks.violation(w, 'body credit for a call without a body');
      call.headed = true;
      call.body = startBody(call.id, this.spec.timeoutMs, this.bodyHooks(w, call));
      call.body.onCredit(msg.bytes);
      return this.hooks.settle(call, { kind: 'body', upload: call.body });
    }
    const isHead = msg.t === 'bytes' || msg.t === 'error' || msg.t === 'file' || msg.t === 'object' || msg.t === 'put' || msg.t === 'discard' || msg.t === 'accepted' || msg.t === 'stream';
    if (isHead && call.headed) return this.hooks.violation(w, `a second answer to one call`);
    if ((msg.t === 'chunk' || msg.t === 'end') && !call.stream) return this.hooks.violation(w, `a "${msg.t}" for a call that is not a stream`);
    switch (msg.t) {
      case 'bytes':
        return this.head(call, { kind: 'bytes', body: msg.body });
      case 'error':
        return this.head(call, { kind: 'error', code: msg.code, message: msg.message });
      case 'file':
        return this.head(call, { kind: 'file', path: msg.path });
      case 'object':
        return this.head(call, { kind: 'object', ref: { bucket: msg.bucket, key: msg.key, ...(msg.versionId ? { versionId: msg.versionId } : {}) } });
      case 'put':
        return this.head(call, { kind: 'put', ref: { bucket: msg.bucket, key: msg.key }, contentType: msg.contentType });
      case 'discard':
        return this.head(call, { kind: 'discard' });
      case 'accepted':
        return this.head(call, { kind: 'accepted' });
      case 'stream': {
        call.headed = true;
        const reader = new WorkerStreamReader(
          msg.size,
          {
            credit: (bytes) => this.hooks.send(w, { t: 'credit', id: call.id, bytes }),
            cancel: () => this.hooks.send(w, { t: 'cancel', id: call.id }),
            timedOut: (e) => {
              this.stats.timeouts++;
              this.log.warn({ event: 'functionTimeout', id: call.request.id, err: e.cause }, 'function stream stalled');
              this.hooks.probe(w);
            },
            done: () => this.hooks.release(call),
          },
          this.spec.streamHighWaterBytes,
          this.spec.timeoutMs,
        );
        call.stream = reader;
        this.hooks.settle(call, { kind: 'stream', reader });
        return;
      }
      case 'chunk':
        if (call.stream?.unpaid) return this.hooks.violation(w, 'a stream chunk it had no credit for');
        return call.stream?.onChunk(msg.data);
      case 'end':
        return call.stream?.onEnd();
      case 'fail': {
        this.stats.failures++;
        const e = functionFailed(msg.reason, this.logs.redact(msg.message), msg.stack && this.logs.redact(msg.stack));
        if (call.stream) return call.stream.onFail(e);
        this.hooks.settle(call, undefined, e);
        this.hooks.release(call);
        return;
      }
    }
  }

  private bodyHooks(w: PooledWorker, call: Call): PoolBodyHooks {
    return {
      send: (msg) => this.hooks.send(w, msg),
      violation: (why) => this.hooks.violation(w, why),
      timedOut: (e) => {
        this.stats.timeouts++;
        this.log.warn({ event: 'functionTimeout', id: call.request.id, err: e.cause }, 'function did not answer after its upload');
        this.hooks.probe(w);
      },
      release: () => this.hooks.release(call),
      failed: (msg) => {
        this.stats.failures++;
        return functionFailed(msg.reason, this.logs.redact(msg.message), msg.stack && this.logs.redact(msg.stack));
      },
    };
  }

  private head(call: Call, result: FunctionResult): void {
    call.headed = true;
    this.hooks.settle(call, result);
    this.hooks.release(call);
  }

  private onKv(w: PooledWorker, msg: Extract<FromWorker, { t: 'kv' }>): void {
    relayKv(w, msg, this.spec.kv, (value) => this.hooks.send(w, { t: 'kvResult', rpc: msg.rpc, value }), this.stats, this.log);
  }

  private onLog(w: PooledWorker, msg: Extract<FromWorker, { t: 'log' }>): void {
    // Only ids this pool gave this worker count as invocations; anything else is stray.
    const call = msg.id === undefined ? undefined : w.calls.get(msg.id);
    this.logs.onLog(msg, call && { id: call.id, requestId: call.request.id });
  }
}
