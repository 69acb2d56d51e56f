/**
 * A pool of worker threads running one version of one function.
 *
 * Isolation rules, in the order things go wrong:
 *  - user code throws, rejects or returns nonsense: the worker reports `fail`; only that
 *    invocation fails.
 *  - an invocation passes its wall-clock limit: it fails at once; the worker is pinged and,
 *    if it does not answer (a synchronous loop), terminated and replaced.
 *  - a worker dies (heap limit, process.exit, uncaught exception, terminated as stuck):
 *    invocations it held that had not answered yet are retried once on another worker (a
 *    read is safe to repeat); streams it was producing fail; a replacement is started, with
 *    backoff when replacements keep dying.
 * The gateway thread never waits on a worker for anything but messages, so none of this can
 * stall a transfer served by another worker, another function or the folder source.
 */
import { Worker } from 'node:worker_threads';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import type { Logger } from 'pino';
import type { FunctionRequest } from '../../../sdk/contract.js';
import { ErrorCode, TftpError } from '../protocol/error-codes.js';
import type { ByteReader } from '../sources/types.js';
import { functionFailed, type FailureKind } from './function-failure.js';
import { builtModule } from './package-root.js';
import { WorkerStreamReader } from './stream-reader.js';
import type { ObjectRef } from '../sources/object-store.js';
import type { FromWorker, KvOp, ToWorker, WorkerBoot } from './worker-protocol.js';

export interface PoolSpec {
  readonly name: string;
  readonly version: string;
  readonly bundlePath: string;
  readonly size: number;
  readonly heapMb: number;
  readonly timeoutMs: number;
  readonly maxConcurrent: number;
  readonly vars: Readonly<Record<string, string>>;
  readonly secrets: Readonly<Record<string, string>>;
  /** How many bytes of a streamed body may be buffered ahead of the session. */
  readonly streamHighWaterBytes: number;
  /** How long a worker may take to load the bundle before the version is rejected. */
  readonly loadTimeoutMs?: number;
  /** Serves env.kv and cached() calls; absent: reads miss and writes are dropped. */
  readonly kv?: FunctionKv;
  /** Told how long each invocation took to answer, and how it ended ('ok' or a failure kind). */
  readonly onInvocation?: InvocationObserver;
}

export type InvocationObserver = (fn: string, seconds: number, outcome: string) => void;

/** The gateway-side store behind a function's env.kv and cached(); never rejects. */
export type FunctionKv = (op: KvOp, key: string, value: Uint8Array | undefined, ttl: number | undefined) => Promise<Uint8Array | undefined>;

/** What an invocation produced, in gateway terms. */
export type FunctionResult =
  | { readonly kind: 'bytes'; readonly body: Uint8Array }
  | { readonly kind: 'error'; readonly code: number; readonly message: string }
  | { readonly kind: 'file'; readonly path: string }
  | { readonly kind: 'object'; readonly ref: ObjectRef }
  | { readonly kind: 'stream'; readonly reader: ByteReader };

/** Runs invocations: a worker pool, or user code in-process (createGateway with a handle). */
export interface Invoker {
  invoke(request: FunctionRequest): Promise<FunctionResult>;
  /** Invocations dispatched and not finished (a stream counts until it ends). */
  readonly inflight: number;
  close(): Promise<void>;
}

export class FunctionLoadError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FunctionLoadError';
  }
}

interface Call {
  readonly id: number;
  readonly startedAt: number;
  readonly request: FunctionRequest;
  readonly resolve: (r: FunctionResult) => void;
  readonly reject: (e: unknown) => void;
  timer: NodeJS.Timeout | undefined;
  worker: PooledWorker | undefined;
  /** The worker answered (head received): from here on the call cannot be retried. */
  headed: boolean;
  retried: boolean;
  settled: boolean;
  stream: WorkerStreamReader | undefined;
}

interface PooledWorker {
  readonly worker: Worker;
  readonly calls: Map<number, Call>;
  ready: boolean;
  /** Missed a deadline: no new work until it answers a ping. */
  suspect: boolean;
  /** Why we terminated it, when we did. */
  killReason: string | undefined;
  exitError: Error | undefined;
  /** Told whether the worker answered the ping in flight (true) or was terminated (false). */
  probeWaiters: ((alive: boolean) => void)[];
  /** Retried calls it holds: at most one, so a culprit cannot take a second innocent down. */
  retriedCalls: number;
}

const MAX_RESTART_DELAY_MS = 2000;

export class WorkerPool implements Invoker {
  private readonly workers = new Set<PooledWorker>();
  private readonly queue: Call[] = [];
  private active = 0;
  private nextId = 1;
  private nextPing = 1;
  private closing = false;
  private recentCrashes: number[] = [];
  private restartTimer: NodeJS.Timeout | undefined;
  private readonly log: Logger;
  private readonly redact: (s: string) => string;
  /** Counters for metrics and tests. */
  readonly stats = { invocations: 0, failures: 0, timeouts: 0, crashes: 0, retries: 0, restarts: 0 };

  constructor(readonly spec: PoolSpec, log: Logger) {
    this.log = log.child({ function: spec.name, version: spec.version });
    const secrets = Object.values(spec.secrets).filter((v) => v.length >= 4);
    this.redact = secrets.length === 0 ? (s) => s : (s) => secrets.reduce((acc, v) => acc.split(v).join('[redacted]'), s);
  }

  get inflight(): number {
    return this.active;
  }

  get size(): number {
    return this.workers.size;
  }

  /** Starts every worker; rejects (and stops them) if the bundle fails to load in any. */
  async start(): Promise<void> {
    const starting = Array.from({ length: this.spec.size }, () => this.spawn());
    const results = await Promise.allSettled(starting);
    const failed = results.find((r) => r.status === 'rejected');
    if (failed) {
      await this.close();
      throw (failed as PromiseRejectedResult).reason;
    }
  }

  invoke(request: FunctionRequest): Promise<FunctionResult> {
    if (this.closing) return Promise.reject(functionFailed('unavailable', `${this.spec.name}@${this.spec.version} is shut down`));
    this.stats.invocations++;
    return new Promise((resolve, reject) => {
      const call: Call = { id: this.nextId++, startedAt: performance.now(), request, resolve, reject, timer: undefined, worker: undefined, headed: false, retried: false, settled: false, stream: undefined };
      // One limit covers waiting for a worker and running the handler up to its answer.
      call.timer = setTimeout(() => this.onTimeout(call), this.spec.timeoutMs);
      if (!this.tryDispatch(call)) {
        if (this.queue.length >= this.spec.maxConcurrent) {
          this.settle(call, undefined, functionFailed('busy', `${this.queue.length} invocations already waiting`));
          return;
        }
        this.queue.push(call);
      }
    });
  }

  async close(): Promise<void> {
    this.closing = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    for (const call of this.queue.splice(0)) this.settle(call, undefined, functionFailed('unavailable', 'function version retired'));
    await Promise.all(
      [...this.workers].map((w) => {
        w.killReason ??= 'pool closed';
        return w.worker.terminate().catch(() => {});
      }),
    );
  }

  // --- workers ---------------------------------------------------------------------------

  private spawn(): Promise<void> {
    const boot: WorkerBoot = { name: this.spec.name, version: this.spec.version, bundlePath: this.spec.bundlePath, vars: this.spec.vars, secrets: this.spec.secrets };
    const worker = new Worker(builtModule('gateway/src/runtime/worker-main'), {
      workerData: boot,
      resourceLimits: { maxOldGenerationSizeMb: this.spec.heapMb },
      // The gateway's environment (cloud credentials, tokens) is not the function's business:
      // it gets vars and secrets, and a process.env with only locale and time zone.
      env: pickEnv(['TZ', 'LANG', 'LC_ALL', 'NODE_ENV']),
      stdout: true,
      stderr: true,
      name: `tftpfn:${this.spec.name}@${this.spec.version}`,
    });
    const w: PooledWorker = { worker, calls: new Map(), ready: false, suspect: false, killReason: undefined, exitError: undefined, probeWaiters: [], retriedCalls: 0 };
    this.workers.add(w);
    this.pipeOutput(worker.stdout, 'stdout');
    this.pipeOutput(worker.stderr, 'stderr');

    return new Promise<void>((resolve, reject) => {
      let loaded = false;
      const loadTimer = setTimeout(() => {
        if (loaded) return;
        w.killReason = 'load timeout';
        void worker.terminate();
        reject(new FunctionLoadError(`${this.spec.name}@${this.spec.version}: the bundle did not finish loading within ${this.loadTimeoutMs} ms`));
      }, this.loadTimeoutMs);
      worker.on('message', (msg: FromWorker) => {
        if (msg.t === 'ready') {
          loaded = true;
          clearTimeout(loadTimer);
          w.ready = true;
          resolve();
          this.pumpQueue();
          return;
        }
        if (msg.t === 'loadError') {
          loaded = true;
          clearTimeout(loadTimer);
          w.killReason = 'load failed';
          void worker.terminate();
          reject(new FunctionLoadError(this.redact(msg.message)));
          return;
        }
        this.onMessage(w, msg);
      });
      worker.on('error', (err) => {
        w.exitError = err;
      });
      worker.on('exit', (code) => {
        clearTimeout(loadTimer);
        this.workers.delete(w);
        if (!loaded) {
          loaded = true;
          const why = w.exitError ? w.exitError.message : `exited with code ${code}`;
          reject(new FunctionLoadError(`${this.spec.name}@${this.spec.version}: the worker died while loading the bundle: ${this.redact(why)}`));
        }
        this.onExit(w, code);
      });
    });
  }

  private get loadTimeoutMs(): number {
    return this.spec.loadTimeoutMs ?? Math.max(10_000, this.spec.timeoutMs);
  }

  private pipeOutput(stream: NodeJS.ReadableStream, which: 'stdout' | 'stderr'): void {
    const lines = createInterface({ input: stream, crlfDelay: Infinity });
    lines.on('line', (line) => {
      const text = line.length > 4096 ? `${line.slice(0, 4096)}…` : line;
      this.log.info({ event: 'functionOutput', stream: which }, this.redact(text));
    });
  }

  private onExit(w: PooledWorker, code: number): void {
    for (const waiter of w.probeWaiters.splice(0)) waiter(false);
    if (!w.ready) {
      // Never got going: nothing was dispatched to it.
      if (!this.closing && w.killReason !== 'load failed' && w.killReason !== 'load timeout') this.scheduleRestart();
      return;
    }
    if (w.killReason === 'pool closed') {
      for (const call of w.calls.values()) this.failCall(call, 'unavailable', 'function version retired');
      return;
    }
    const oom = (w.exitError as NodeJS.ErrnoException | undefined)?.code === 'ERR_WORKER_OUT_OF_MEMORY';
    const why = w.killReason ?? (oom ? `exceeded its heap limit of ${this.spec.heapMb} MiB` : w.exitError ? `threw ${w.exitError.message}` : `exited with code ${code}`);
    this.stats.crashes++;
    this.log.error({ event: 'workerExit', reason: this.redact(why), inflight: w.calls.size, ...(w.exitError && !oom ? { err: w.exitError } : {}) }, `function worker ${why}; replacing it`);
    for (const call of [...w.calls.values()]) {
      if (!call.headed && !call.retried && !call.settled) {
        // It may only have shared the thread with the culprit: run it once more elsewhere.
        w.calls.delete(call.id);
        call.retried = true;
        call.worker = undefined;
        this.active--;
        this.stats.retries++;
        // Which of the calls on a dead worker killed it is unknowable, so each gets a full
        // limit again; the culprit fails on its second run, the others succeed.
        if (call.timer) clearTimeout(call.timer);
        call.timer = setTimeout(() => this.onTimeout(call), this.spec.timeoutMs);
        this.queue.unshift(call);
      } else {
        this.failCall(call, 'worker-crashed', `worker ${why}`);
      }
    }
    this.pumpQueue();
    this.scheduleRestart();
  }

  private scheduleRestart(): void {
    if (this.closing || this.restartTimer) return;
    const now = Date.now();
    this.recentCrashes = this.recentCrashes.filter((t) => now - t < 10_000);
    this.recentCrashes.push(now);
    // A function that kills every worker it gets must not turn the gateway into a fork bomb.
    const delay = this.recentCrashes.length <= 2 ? 0 : Math.min(MAX_RESTART_DELAY_MS, 50 * 2 ** (this.recentCrashes.length - 2));
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      if (this.closing) return;
      const missing = this.spec.size - this.workers.size;
      for (let i = 0; i < missing; i++) {
        this.stats.restarts++;
        this.spawn().catch((e) => {
          this.log.error({ event: 'workerRestartFailed', err: e }, 'replacement worker failed to load');
          this.scheduleRestart();
        });
      }
    }, delay);
    this.restartTimer.unref?.();
  }

  // --- calls -----------------------------------------------------------------------------

  private pickWorker(retried: boolean): PooledWorker | undefined {
    let best: PooledWorker | undefined;
    for (const w of this.workers) {
      if (!w.ready || w.suspect || w.killReason) continue;
      if (retried && w.retriedCalls > 0) continue;
      if (!best || w.calls.size < best.calls.size) best = w;
    }
    return best;
  }

  private tryDispatch(call: Call): boolean {
    if (this.active >= this.spec.maxConcurrent) return false;
    const w = this.pickWorker(call.retried);
    if (!w) return false;
    this.active++;
    call.worker = w;
    if (call.retried) w.retriedCalls++;
    w.calls.set(call.id, call);
    this.send(w, { t: 'invoke', id: call.id, request: call.request });
    return true;
  }

  private pumpQueue(): void {
    for (let i = 0; i < this.queue.length; ) {
      const call = this.queue[i];
      if (call.settled) {
        this.queue.splice(i, 1);
        continue;
      }
      if (this.tryDispatch(call)) {
        this.queue.splice(i, 1);
        continue;
      }
      // A retried call may wait for a worker of its own while ordinary calls go ahead.
      if (!call.retried || this.active >= this.spec.maxConcurrent) return;
      i++;
    }
  }

  private send(w: PooledWorker, msg: ToWorker): void {
    try {
      w.worker.postMessage(msg);
    } catch {
      /* the worker is exiting; its exit handler deals with the calls */
    }
  }

  private onMessage(w: PooledWorker, msg: FromWorker): void {
    if (msg.t === 'pong') {
      w.suspect = false;
      for (const waiter of w.probeWaiters.splice(0)) waiter(true);
      this.pumpQueue();
      return;
    }
    if (msg.t === 'log') return this.onLog(w, msg);
    if (msg.t === 'kv') return this.onKv(w, msg);
    if (msg.t === 'ready' || msg.t === 'loadError') return;
    const call = w.calls.get(msg.id);
    if (!call) return; // timed out or cancelled: late answers are dropped
    switch (msg.t) {
      case 'bytes':
        return this.head(call, { kind: 'bytes', body: msg.body });
      case 'error':
        return this.head(call, { kind: 'error', code: msg.code, message: msg.message });
      case 'file':
        return this.head(call, { kind: 'file', path: msg.path });
      case 'object':
        return this.head(call, { kind: 'object', ref: { bucket: msg.bucket, key: msg.key, ...(msg.versionId ? { versionId: msg.versionId } : {}) } });
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
              this.probe(w);
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

  private head(call: Call, result: FunctionResult): void {
    call.headed = true;
    this.settle(call, result);
    this.release(call);
  }

  private onKv(w: PooledWorker, msg: Extract<FromWorker, { t: 'kv' }>): void {
    const answer = (value: Uint8Array | undefined) => this.send(w, { t: 'kvResult', rpc: msg.rpc, value });
    if (!this.spec.kv) return answer(undefined);
    this.spec.kv(msg.op, msg.key, msg.value, msg.ttl).then(answer, (e: unknown) => {
      this.log.warn({ event: 'functionKvError', op: msg.op, err: e }, 'key-value call failed; answered as a miss');
      answer(undefined);
    });
  }

  private onLog(w: PooledWorker, msg: Extract<FromWorker, { t: 'log' }>): void {
    const call = msg.id === undefined ? undefined : w.calls.get(msg.id);
    const obj = msg.obj && typeof msg.obj === 'object' ? (JSON.parse(this.redact(JSON.stringify(msg.obj))) as object) : {};
    const fields = { ...obj, event: 'functionLog', ...(call ? { id: call.request.id } : {}) };
    this.log[msg.level](fields, msg.msg === undefined ? undefined : this.redact(msg.msg));
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
      const at = this.queue.indexOf(call);
      if (at >= 0) this.queue.splice(at, 1);
      return timedOut();
    }
    if (call.retried) {
      // Its second run hung too: this one is the culprit.
      timedOut();
      this.send(w, { t: 'cancel', id: call.id });
      this.release(call);
      this.probe(w);
      return;
    }
    // A worker that still answers pings is fine and this call merely awaits forever: fail it.
    // One that does not is stuck in a loop, and the exit handler retries what it held.
    this.probe(w, (alive) => {
      if (!alive || call.settled) return;
      timedOut();
      this.send(w, { t: 'cancel', id: call.id });
      this.release(call);
    });
  }

  /** Pings a worker that missed a deadline; terminates it if it cannot answer (stuck). */
  private probe(w: PooledWorker, then?: (alive: boolean) => void): void {
    if (then) w.probeWaiters.push(then);
    if (w.suspect || w.killReason) return;
    w.suspect = true;
    const seq = this.nextPing++;
    const grace = Math.min(1000, Math.max(100, this.spec.timeoutMs / 4));
    this.send(w, { t: 'ping', seq });
    setTimeout(() => {
      if (!w.suspect || w.killReason || !this.workers.has(w)) return;
      w.killReason = `was stuck (no answer ${grace} ms after a ${this.spec.timeoutMs} ms limit passed)`;
      void w.worker.terminate();
    }, grace).unref?.();
  }

  private failCall(call: Call, kind: FailureKind, message: string): void {
    const e = functionFailed(kind, message);
    if (call.stream) call.stream.onFail(e);
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
    const w = call.worker;
    if (!w || !w.calls.delete(call.id)) return;
    if (call.retried) w.retriedCalls--;
    this.active--;
    this.pumpQueue();
  }
}

function pickEnv(names: string[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const n of names) if (process.env[n] !== undefined) env[n] = process.env[n]!;
  return env;
}
