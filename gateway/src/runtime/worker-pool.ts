/**
 * Runs one version of one function's invocations on its workers: a call from invoke() until
 * it is settled, through the worker's answers, streams, retries and timeouts. Where and when a
 * call runs (the queue, the concurrency count, the choice of worker) is call-scheduler.ts's
 * job; keeping the workers alive (spawn, load, probe, kill, restart) is worker-supervisor.ts's;
 * what they log goes through worker-logs.ts, their env.kv through worker-kv.ts.
 *
 * A call's life:
 *   queued ──worker free──▶ dispatched ──head (bytes, error, file, object)──▶ settled, released
 *      │                       │   └──stream head──▶ settled; released when the stream ends
 *      │ limit passed          │ worker died before the head
 *      ▼                       ▼
 *   failed 'timeout'      queued again, once (retried), at the front
 *  - One limit (timeoutMs) covers waiting for a worker and running up to the head; a call the
 *    scheduler cannot even queue fails 'busy' at once.
 *  - Answers are accepted only for calls this pool gave that worker; a second head, a chunk
 *    without credit or for a non-stream is a protocol violation and kills the worker.
 *
 * Isolation rules, in the order things go wrong:
 *  - user code throws, rejects or returns nonsense: the worker reports `fail`; only that
 *    invocation fails.
 *  - an invocation passes its wall-clock limit: it fails at once; the worker is pinged and,
 *    if it does not answer (a synchronous loop), terminated and replaced.
 *  - a worker dies (heap or memory limit, process.exit, process.kill, uncaught exception,
 *    terminated as stuck, including a process stopped with SIGSTOP, which cannot answer a ping):
 *    invocations it held that had not answered yet are retried once on another worker (a
 *    read is safe to repeat); streams it was producing fail; a replacement is started, with
 *    backoff when replacements keep dying.
 * The gateway thread never waits on a worker for anything but messages, so none of this can
 * stall a transfer served by another worker, another function or the folder source.
 */
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import type { FunctionRequest } from '../../../sdk/contract.js';
import { ErrorCode, TftpError } from '../protocol/error-codes.js';
import { functionFailed, type FailureKind } from './function-failure.js';
import type { FunctionResult, InvokeOpts, Invoker } from './invoker.js';
import { DEFAULT_LOG_LIMITS, type PoolSpec, type PoolStats } from './pool-spec.js';
import { WorkerStreamReader } from './stream-reader.js';
import { bodyMessage, startBody, type PoolBodyHooks } from './pool-body.js';
import type { WorkerExit } from './worker-handle.js';
import { relayKv } from './worker-kv.js';
import { makeRedactor, WorkerLogs } from './worker-logs.js';
import type { FromWorker, ToWorker } from './worker-protocol.js';
import { WorkerSupervisor } from './worker-supervisor.js';
import { CallScheduler, type Call, type PooledWorker } from './call-scheduler.js';

// Named here too for the pool's existing importers: the spec (pool-spec.ts), the load error
// (worker-supervisor.ts) and the invoker contract (invoker.ts).
export { DEFAULT_LOG_LIMITS, SANDBOX_OVERHEAD_MB, type PoolSpec, type PoolStats } from './pool-spec.js';
export { FunctionLoadError } from './worker-supervisor.js';
export type { FunctionKv, FunctionResult, InvocationObserver, Invoker } from './invoker.js';

export { MAX_KV_INFLIGHT_PER_WORKER } from './worker-kv.js';

export class WorkerPool implements Invoker {
  private readonly scheduler: CallScheduler;
  private nextId = 1;
  private closing = false;
  private readonly log: Logger;
  private readonly logs: WorkerLogs;
  private readonly supervisor: WorkerSupervisor<PooledWorker>;
  /** Counters for metrics and tests. */
  readonly stats: PoolStats = { invocations: 0, failures: 0, timeouts: 0, crashes: 0, retries: 0, restarts: 0, kvRefused: 0 };

  constructor(readonly spec: PoolSpec, log: Logger) {
    this.log = log.child({ function: spec.name, version: spec.version });
    this.logs = new WorkerLogs(this.log, spec.log ?? DEFAULT_LOG_LIMITS, makeRedactor(spec.secrets));
    this.supervisor = new WorkerSupervisor<PooledWorker>(spec, this.log, this.logs, this.stats, {
      create: (base) => Object.assign(base, { calls: new Map<number, Call>(), retriedCalls: 0, kvInflight: 0 }),
      available: () => this.scheduler.pump(),
      message: (w, msg) => this.onMessage(w, msg),
      retired: (w) => {
        for (const call of w.calls.values()) this.failCall(call, 'unavailable', 'function version retired');
      },
      crashed: (w, why, exit) => this.onCrash(w, why, exit),
    });
    this.scheduler = new CallScheduler(this.supervisor.workers, spec.maxConcurrent, {
      dispatch: (w, call) => this.send(w, { t: 'invoke', id: call.id, request: call.request, ...(call.withBody ? { body: true } : {}) }),
      released: (call) => this.logs.finish({ id: call.id, requestId: call.request.id }),
    });
  }

  get isolation(): 'process' | 'thread' {
    return this.supervisor.isolation;
  }

  get memoryMb(): number {
    return this.supervisor.memoryMb;
  }

  get inflight(): number {
    return this.scheduler.active;
  }

  get size(): number {
    return this.supervisor.workers.size;
  }

  private get redact(): (s: string) => string {
    return this.logs.redact;
  }

  /** Starts every worker; rejects (and stops them) if the bundle fails to load in any. */
  async start(): Promise<void> {
    const failed = await this.supervisor.start();
    if (failed) {
      await this.close();
      throw failed.reason;
    }
  }

  invoke(request: FunctionRequest, opts: InvokeOpts = {}): Promise<FunctionResult> {
    if (this.closing) return Promise.reject(functionFailed('unavailable', `${this.spec.name}@${this.spec.version} is shut down`));
    this.stats.invocations++;
    return new Promise((resolve, reject) => {
      const call: Call = { id: this.nextId++, startedAt: performance.now(), request, resolve, reject, timer: undefined, worker: undefined, headed: false, retried: false, settled: false, stream: undefined, ...(opts.body ? { withBody: true } : {}) };
      // One limit covers waiting for a worker and running the handler up to its answer.
      call.timer = setTimeout(() => this.onTimeout(call), this.spec.timeoutMs);
      if (this.scheduler.admit(call) === 'full') {
        this.settle(call, undefined, functionFailed('busy', `${this.scheduler.waiting} invocations already waiting`));
      }
    });
  }

  async close(): Promise<void> {
    this.closing = true;
    for (const call of this.scheduler.drain()) this.settle(call, undefined, functionFailed('unavailable', 'function version retired'));
    this.logs.close();
    await this.supervisor.close();
  }

  /** A loaded worker died: what it held that had not answered runs once more elsewhere. */
  private onCrash(w: PooledWorker, why: string, exit: WorkerExit): void {
    this.log.error({ event: 'workerExit', reason: this.redact(why), inflight: w.calls.size, ...(exit.error && !w.killReason ? { err: exit.error } : {}) }, `function worker ${this.redact(why)}; replacing it`);
    for (const call of [...w.calls.values()]) {
      if (!call.headed && !call.retried && !call.settled) {
        // It may only have shared the thread with the culprit: run it once more elsewhere.
        this.scheduler.requeueFront(call);
        this.stats.retries++;
        // Which of the calls on a dead worker killed it is unknowable, so each gets a full
        // limit again; the culprit fails on its second run, the others succeed.
        if (call.timer) clearTimeout(call.timer);
        call.timer = setTimeout(() => this.onTimeout(call), this.spec.timeoutMs);
      } else {
        this.failCall(call, 'worker-crashed', `worker ${why}`);
      }
    }
    this.scheduler.pump();
  }

  // --- answers ---------------------------------------------------------------------------

  private send(w: PooledWorker, msg: ToWorker): void {
    w.worker.send(msg);
  }

  private onMessage(w: PooledWorker, msg: FromWorker): void {
    if (msg.t === 'log') return this.onLog(w, msg);
    if (msg.t === 'kv') return this.onKv(w, msg);
    // ready, loadError and pong are the supervisor's (worker-supervisor.ts).
    if (msg.t === 'ready' || msg.t === 'loadError' || msg.t === 'pong') return;
    const call = w.calls.get(msg.id);
    if (!call) return; // timed out or cancelled: late answers are dropped
    if (call.body) return bodyMessage(call.body, msg, this.bodyHooks(w, call));
    if (msg.t === 'bodyCredit') {
      if (!call.withBody || call.headed) return this.supervisor.violation(w, 'body credit for a call without a body');
      call.headed = true;
      call.body = startBody(call.id, this.spec.timeoutMs, this.bodyHooks(w, call));
      call.body.onCredit(msg.bytes);
      return this.settle(call, { kind: 'body', upload: call.body });
    }
    const isHead = msg.t === 'bytes' || msg.t === 'error' || msg.t === 'file' || msg.t === 'object' || msg.t === 'put' || msg.t === 'discard' || msg.t === 'accepted' || msg.t === 'stream';
    if (isHead && call.headed) return this.supervisor.violation(w, `a second answer to one call`);
    if ((msg.t === 'chunk' || msg.t === 'end') && !call.stream) return this.supervisor.violation(w, `a "${msg.t}" for a call that is not a stream`);
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
            credit: (bytes) => this.send(w, { t: 'credit', id: call.id, bytes }),
            cancel: () => this.send(w, { t: 'cancel', id: call.id }),
            timedOut: (e) => {
              this.stats.timeouts++;
              this.log.warn({ event: 'functionTimeout', id: call.request.id, err: e.cause }, 'function stream stalled');
              this.supervisor.probe(w);
            },
            done: () => this.release(call),
          },
          this.spec.streamHighWaterBytes,
          this.spec.timeoutMs,
        );
        call.stream = reader;
        this.settle(call, { kind: 'stream', reader });
        return;
      }
      case 'chunk':
        if (call.stream?.unpaid) return this.supervisor.violation(w, 'a stream chunk it had no credit for');
        return call.stream?.onChunk(msg.data);
      case 'end':
        return call.stream?.onEnd();
      case 'fail': {
        this.stats.failures++;
        const e = functionFailed(msg.reason, this.redact(msg.message), msg.stack && this.redact(msg.stack));
        if (call.stream) return call.stream.onFail(e);
        this.settle(call, undefined, e);
        this.release(call);
        return;
      }
    }
  }

  private bodyHooks(w: PooledWorker, call: Call): PoolBodyHooks {
    return {
      send: (msg) => this.send(w, msg),
      violation: (why) => this.supervisor.violation(w, why),
      timedOut: (e) => {
        this.stats.timeouts++;
        this.log.warn({ event: 'functionTimeout', id: call.request.id, err: e.cause }, 'function did not answer after its upload');
        this.supervisor.probe(w);
      },
      release: () => this.release(call),
      failed: (msg) => {
        this.stats.failures++;
        return functionFailed(msg.reason, this.redact(msg.message), msg.stack && this.redact(msg.stack));
      },
    };
  }

  private head(call: Call, result: FunctionResult): void {
    call.headed = true;
    this.settle(call, result);
    this.release(call);
  }

  private onKv(w: PooledWorker, msg: Extract<FromWorker, { t: 'kv' }>): void {
    relayKv(w, msg, this.spec.kv, (value) => this.send(w, { t: 'kvResult', rpc: msg.rpc, value }), this.stats, this.log);
  }

  private onLog(w: PooledWorker, msg: Extract<FromWorker, { t: 'log' }>): void {
    // Only ids this pool gave this worker count as invocations; anything else is stray.
    const call = msg.id === undefined ? undefined : w.calls.get(msg.id);
    this.logs.onLog(msg, call && { id: call.id, requestId: call.request.id });
  }

  private onTimeout(call: Call): void {
    call.timer = undefined;
    if (call.settled) return;
    const w = call.worker;
    const timedOut = () => {
      this.stats.timeouts++;
      this.settle(call, undefined, functionFailed('timeout', `handle() did not answer within ${this.spec.timeoutMs} ms${w ? '' : ' (no worker was free)'}`));
    };
    if (!w) {
      this.scheduler.dequeue(call);
      return timedOut();
    }
    if (call.retried) {
      // Its second run hung too: this one is the culprit.
      timedOut();
      this.send(w, { t: 'cancel', id: call.id });
      this.release(call);
      this.supervisor.probe(w);
      return;
    }
    // A worker that still answers pings is fine and this call merely awaits forever: fail it.
    // One that does not is stuck in a loop, and the exit handler retries what it held.
    this.supervisor.probe(w, (alive) => {
      if (!alive || call.settled) return;
      timedOut();
      this.send(w, { t: 'cancel', id: call.id });
      this.release(call);
    });
  }

  private failCall(call: Call, kind: FailureKind, message: string): void {
    const e = functionFailed(kind, message);
    if (call.body) call.body.onFail(e);
    else if (call.stream) call.stream.onFail(e);
    else {
      this.settle(call, undefined, e);
      this.release(call);
    }
  }

  private settle(call: Call, result: FunctionResult | undefined, error?: unknown): void {
    if (call.settled) return;
    call.settled = true;
    if (call.timer) clearTimeout(call.timer);
    call.timer = undefined;
    if (this.spec.onInvocation) {
      const kind = result ? 'ok' : (((error as { cause?: { kind?: string } } | undefined)?.cause?.kind) ?? 'error');
      this.spec.onInvocation(this.spec.name, (performance.now() - call.startedAt) / 1000, kind);
    }
    if (result) call.resolve(result);
    else call.reject(error ?? new TftpError(ErrorCode.NotDefined, 'internal error'));
  }

  /** The call no longer holds a concurrency slot or a place on its worker. */
  private release(call: Call): void {
    this.scheduler.release(call);
  }
}
