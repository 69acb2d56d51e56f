/**
 * Runs one version of one function's invocations on its workers: a call from invoke() until
 * it is settled, through the worker's answers (worker-answers.ts), retries and timeouts. Where and when a
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
 *  - What a worker's messages mean for its calls (heads, streams, fail, body, log, kv) is
 *    worker-answers.ts's; a message no honest worker sends kills the worker.
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
import type { WorkerExit } from './worker-handle.js';
import { makeRedactor, WorkerLogs } from './worker-logs.js';
import type { ToWorker } from './worker-protocol.js';
import { WorkerAnswers } from './worker-answers.js';
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
  private readonly answers: WorkerAnswers;
  /** Counters for metrics and tests. */
  readonly stats: PoolStats = { invocations: 0, failures: 0, timeouts: 0, crashes: 0, retries: 0, restarts: 0, kvRefused: 0 };

  constructor(readonly spec: PoolSpec, log: Logger) {
    this.log = log.child({ function: spec.name, version: spec.version });
    this.logs = new WorkerLogs(this.log, spec.log ?? DEFAULT_LOG_LIMITS, makeRedactor(spec.secrets));
    this.answers = new WorkerAnswers(spec, this.log, this.logs, this.stats, {
      send: (w, msg) => this.send(w, msg),
      settle: (call, result, error) => this.settle(call, result, error),
      release: (call) => this.release(call),
      violation: (w, why) => this.supervisor.violation(w, why),
      probe: (w) => this.supervisor.probe(w),
    });
    this.supervisor = new WorkerSupervisor<PooledWorker>(spec, this.log, this.logs, this.stats, {
      create: (base) => Object.assign(base, { calls: new Map<number, Call>(), retriedCalls: 0, kvInflight: 0 }),
      available: () => this.scheduler.pump(),
      message: (w, msg) => this.answers.onMessage(w, msg),
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

  private send(w: PooledWorker, msg: ToWorker): void {
    w.worker.send(msg);
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
