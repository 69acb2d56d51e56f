/**
 * A pool of workers running one version of one function: sandboxed child processes (isolation
 * 'process', the default; sandbox-spawn.ts) or worker threads in the gateway's process
 * (isolation 'thread', for trusted code only).
 *
 * Every message from a worker is checked (message-check.ts) before the pool acts on it, and
 * answers are accepted only for calls the pool issued to that worker; a malformed message kills
 * the worker. What a function logs is bounded per invocation and per second (log-limiter.ts).
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
import type { Readable } from 'node:stream';
import type { Logger } from 'pino';
import type { FunctionRequest } from '../../../sdk/contract.js';
import { ErrorCode, TftpError } from '../protocol/error-codes.js';
import { functionFailed, type FailureKind } from './function-failure.js';
import type { FunctionKv, FunctionResult, InvocationObserver, Invoker } from './invoker.js';
import { WorkerStreamReader } from './stream-reader.js';
import type { FromWorker, ToWorker, WorkerBoot } from './worker-protocol.js';
import { checkFromWorker } from './message-check.js';
import { LogLimiter, type LogLimits } from './log-limiter.js';
import { startThreadWorker, type WorkerExit, type WorkerHandle } from './worker-handle.js';
import { startProcessWorker } from './sandbox-process.js';
import { prepareSandboxDir, probeNetwork, probeNodeDataKb, sandboxCommand, sandboxUser, type NetworkIsolation, type SandboxUser } from './sandbox-spawn.js';
import { removeTempDir } from './temp-dirs.js';

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
  /** 'process' (default): sandboxed child processes; 'thread': worker threads in this process (trusted code only). */
  readonly isolation?: 'process' | 'thread';
  /** Data size limit of a sandboxed process (RLIMIT_DATA), MiB; default heapMb + 384. */
  readonly memoryMb?: number;
  /** The user a sandboxed process runs as; default `nobody` when the gateway is root, else the gateway's user. */
  readonly uid?: number;
  readonly gid?: number;
  /** Paths a sandboxed process may read besides its bundle. */
  readonly allowRead?: readonly string[];
  /** Bounds on what the function may log; defaults in DEFAULT_LOG_LIMITS. */
  readonly log?: LogLimits;
}

export const DEFAULT_LOG_LIMITS: LogLimits = { linesPerInvocation: 1000, bytesPerInvocation: 1024 * 1024, linesPerSecond: 2000 };

/** Node's own share of a sandboxed process's data segment, on top of the V8 heap. */
export const SANDBOX_OVERHEAD_MB = 384;

// The invoker contract lives in invoker.ts; named here too for the pool's existing importers.
export type { FunctionKv, FunctionResult, InvocationObserver, Invoker } from './invoker.js';

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
  readonly worker: WorkerHandle;
  readonly calls: Map<number, Call>;
  ready: boolean;
  /** Missed a deadline: no new work until it answers a ping. */
  suspect: boolean;
  /** Why we terminated it, when we did. */
  killReason: string | undefined;
  /** Told whether the worker answered the ping in flight (true) or was terminated (false). */
  probeWaiters: ((alive: boolean) => void)[];
  /** Retried calls it holds: at most one, so a culprit cannot take a second innocent down. */
  retriedCalls: number;
  /** env.kv and cached() calls of this worker the store has not answered yet. */
  kvInflight: number;
  /** Called once it has exited (close() waits for it). */
  onGone: (() => void) | undefined;
}

const MAX_RESTART_DELAY_MS = 2000;
/** env.kv and cached() calls one worker may have waiting on the store. */
export const MAX_KV_INFLIGHT_PER_WORKER = 1024;

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
  private readonly logLimiter: LogLimiter;
  private sandbox: { dir: string; bundlePath: string; user: SandboxUser | undefined; network: NetworkIsolation; unsharePath?: string } | undefined;
  private strayReport: NodeJS.Timeout | undefined;
  /** Counters for metrics and tests. */
  readonly stats = { invocations: 0, failures: 0, timeouts: 0, crashes: 0, retries: 0, restarts: 0, kvRefused: 0 };

  constructor(readonly spec: PoolSpec, log: Logger) {
    this.log = log.child({ function: spec.name, version: spec.version });
    const secrets = Object.values(spec.secrets).filter((v) => v.length >= 4);
    this.redact = secrets.length === 0 ? (s) => s : (s) => secrets.reduce((acc, v) => acc.split(v).join('[redacted]'), s);
    this.logLimiter = new LogLimiter(spec.log ?? DEFAULT_LOG_LIMITS);
  }

  get isolation(): 'process' | 'thread' {
    return this.spec.isolation ?? 'process';
  }

  get memoryMb(): number {
    return this.spec.memoryMb ?? this.spec.heapMb + SANDBOX_OVERHEAD_MB;
  }

  get inflight(): number {
    return this.active;
  }

  get size(): number {
    return this.workers.size;
  }

  /** Starts every worker; rejects (and stops them) if the bundle fails to load in any. */
  async start(): Promise<void> {
    if (this.isolation === 'process') {
      const user = sandboxUser({ uid: this.spec.uid, gid: this.spec.gid });
      const { dir, bundlePath } = await prepareSandboxDir(this.spec.bundlePath, user);
      const net = probeNetwork();
      this.sandbox = { dir, bundlePath, user, ...net };
      // No namespace is worth a warning: the network is then refused by JavaScript alone.
      this.log[net.network === 'lockdown-only' ? 'warn' : 'debug'](
        { event: 'sandbox', uid: user?.uid ?? process.getuid?.(), network: net.network, memoryMb: this.memoryMb, heapMb: this.spec.heapMb },
        net.network === 'lockdown-only' ? 'function sandbox without a network namespace (unshare unavailable): network disarmed in JavaScript only' : 'function sandbox',
      );
    }
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
    if (this.strayReport) clearTimeout(this.strayReport);
    await Promise.all(
      [...this.workers].map(
        (w) =>
          new Promise<void>((resolve) => {
            w.onGone = resolve;
            w.killReason ??= 'pool closed';
            w.worker.terminate();
          }),
      ),
    );
    if (this.sandbox) removeTempDir(this.sandbox.dir);
  }

  // --- workers ---------------------------------------------------------------------------

  private spawn(): Promise<void> {
    const limits = this.spec.log ?? DEFAULT_LOG_LIMITS;
    const boot: WorkerBoot = {
      name: this.spec.name,
      version: this.spec.version,
      bundlePath: this.sandbox?.bundlePath ?? this.spec.bundlePath,
      vars: this.spec.vars,
      secrets: this.spec.secrets,
      log: { linesPerInvocation: limits.linesPerInvocation, bytesPerInvocation: limits.bytesPerInvocation, linesPerSecond: limits.linesPerSecond },
      captureConsole: this.isolation === 'process',
    };
    // The gateway's environment (cloud credentials, tokens) is not the function's business:
    // it gets vars and secrets, and a process.env with only locale and time zone.
    const env = pickEnv(['TZ', 'LANG', 'LC_ALL', 'NODE_ENV']);
    let w!: PooledWorker;
    let onMessage: (raw: unknown) => void = () => {};
    let onExit: (exit: WorkerExit) => void = () => {};
    const events = { message: (raw: unknown) => onMessage(raw), exit: (exit: WorkerExit) => onExit(exit) };
    const sandbox = this.sandbox;
    const worker = sandbox
      ? startProcessWorker(
          {
            command: sandboxCommand({ sandboxDir: sandbox.dir, heapMb: this.spec.heapMb, memoryMb: this.memoryMb, user: sandbox.user, network: sandbox.network, unsharePath: sandbox.unsharePath, allowRead: this.spec.allowRead, nodeDataKb: probeNodeDataKb() }),
            boot,
            env,
            cwd: sandbox.dir,
          },
          events,
        )
      : startThreadWorker({ boot, heapMb: this.spec.heapMb, env, name: `tftpfn:${this.spec.name}@${this.spec.version}` }, events);
    w = { worker, calls: new Map(), ready: false, suspect: false, killReason: undefined, probeWaiters: [], retriedCalls: 0, kvInflight: 0, onGone: undefined };
    this.workers.add(w);
    this.pipeOutput(worker.stdout, 'stdout');
    this.pipeOutput(worker.stderr, 'stderr');

    return new Promise<void>((resolve, reject) => {
      let loaded = false;
      const loadTimer = setTimeout(() => {
        if (loaded) return;
        w.killReason = 'load timeout';
        worker.terminate();
        reject(new FunctionLoadError(`${this.spec.name}@${this.spec.version}: the bundle did not finish loading within ${this.loadTimeoutMs} ms`));
      }, this.loadTimeoutMs);
      onMessage = (raw) => {
        if (w.killReason) return;
        const msg = checkFromWorker(raw);
        if (typeof msg === 'string') return this.violation(w, msg);
        if (msg.t === 'ready') {
          if (loaded) return this.violation(w, 'a second "ready" message');
          loaded = true;
          clearTimeout(loadTimer);
          w.ready = true;
          resolve();
          this.pumpQueue();
          return;
        }
        if (msg.t === 'loadError') {
          if (loaded) return this.violation(w, 'a "loadError" message after loading');
          loaded = true;
          clearTimeout(loadTimer);
          w.killReason = 'load failed';
          worker.terminate();
          reject(new FunctionLoadError(this.redact(msg.message)));
          return;
        }
        this.onMessage(w, msg);
      };
      onExit = (exit) => {
        clearTimeout(loadTimer);
        this.workers.delete(w);
        if (!loaded) {
          loaded = true;
          reject(new FunctionLoadError(`${this.spec.name}@${this.spec.version}: the worker died while loading the bundle: ${this.redact(this.exitReason(w, exit))}`));
        }
        this.onExit(w, exit);
        w.onGone?.();
      };
    });
  }

  /** A message no honest worker sends: the worker is killed, its calls fail or are retried. */
  private violation(w: PooledWorker, what: string): void {
    if (w.killReason) return;
    this.log.error({ event: 'workerProtocolViolation', reason: what }, `function worker sent ${what}; killing it`);
    w.killReason = `was killed for sending ${what}`;
    w.worker.terminate();
  }

  private exitReason(w: PooledWorker, exit: WorkerExit): string {
    if (w.killReason) return w.killReason;
    if (exit.heapExhausted) return `exceeded its heap limit of ${this.spec.heapMb} MiB`;
    if (exit.memoryExhausted) return `exceeded its memory limit of ${this.memoryMb} MiB`;
    if (exit.error) return `threw ${exit.error.message}`;
    if (exit.signal) return `was killed by ${exit.signal}`;
    return `exited with code ${exit.code}`;
  }

  private get loadTimeoutMs(): number {
    return this.spec.loadTimeoutMs ?? Math.max(10_000, this.spec.timeoutMs);
  }

  /**
   * console output of the worker, line by line into the log, through the same per-function
   * bucket as env.log: a flood is dropped (and counted) instead of logged, and reading pauses
   * while everything is being dropped, so the flood costs the worker, not the gateway.
   */
  private pipeOutput(stream: Readable, which: 'stdout' | 'stderr'): void {
    let partial = '';
    stream.setEncoding('utf8');
    stream.on('data', (text: string) => {
      const lines = (partial + text).split('\n');
      partial = lines.pop() ?? '';
      if (partial.length > 4096) {
        lines.push(partial);
        partial = '';
      }
      let logged = 0;
      const now = performance.now();
      for (const raw of lines) {
        const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
        const text = line.length > 4096 ? `${line.slice(0, 4096)}…` : line;
        if (!this.logLimiter.admit(undefined, text.length, now)) continue;
        logged++;
        this.log.info({ event: 'functionOutput', stream: which }, this.redact(text));
      }
      this.scheduleStrayReport();
      if (logged === 0 && lines.length > 0) {
        stream.pause();
        setTimeout(() => stream.resume(), 100).unref?.();
      }
    });
  }

  /** Reports lines dropped outside invocations (console output), at most once a second. */
  private scheduleStrayReport(): void {
    if (this.strayReport) return;
    this.strayReport = setTimeout(() => {
      this.strayReport = undefined;
      const dropped = this.logLimiter.takeStrayDropped();
      if (dropped > 0) this.log.warn({ event: 'functionLogDropped', dropped }, `log lines dropped: ${dropped}`);
    }, 1000);
    this.strayReport.unref?.();
  }

  private onExit(w: PooledWorker, exit: WorkerExit): void {
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
    const why = this.exitReason(w, exit);
    this.stats.crashes++;
    this.log.error({ event: 'workerExit', reason: this.redact(why), inflight: w.calls.size, ...(exit.error && !w.killReason ? { err: exit.error } : {}) }, `function worker ${this.redact(why)}; replacing it`);
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
    w.worker.send(msg);
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
    const isHead = msg.t === 'bytes' || msg.t === 'error' || msg.t === 'file' || msg.t === 'object' || msg.t === 'stream';
    if (isHead && call.headed) return this.violation(w, `a second answer to one call`);
    if ((msg.t === 'chunk' || msg.t === 'end') && !call.stream) return this.violation(w, `a "${msg.t}" for a call that is not a stream`);
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
        if (call.stream?.unpaid) return this.violation(w, 'a stream chunk it had no credit for');
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
    // A worker flooding the store (Redis, shared by the fleet) gets misses, as from a store
    // that is down, instead of an unbounded queue of commands.
    if (w.kvInflight >= MAX_KV_INFLIGHT_PER_WORKER) {
      this.stats.kvRefused++;
      if (this.stats.kvRefused % 1000 === 1) this.log.warn({ event: 'functionKvBusy', inflight: w.kvInflight, refused: this.stats.kvRefused }, `more than ${MAX_KV_INFLIGHT_PER_WORKER} key-value calls in flight; answered as misses`);
      return answer(undefined);
    }
    w.kvInflight++;
    this.spec.kv(msg.op, msg.key, msg.value, msg.ttl)
      .then(answer, (e: unknown) => {
        this.log.warn({ event: 'functionKvError', op: msg.op, err: e }, 'key-value call failed; answered as a miss');
        answer(undefined);
      })
      .finally(() => w.kvInflight--);
  }

  private onLog(w: PooledWorker, msg: Extract<FromWorker, { t: 'log' }>): void {
    // Only ids this pool gave this worker count as invocations; anything else is stray.
    const call = msg.id === undefined ? undefined : w.calls.get(msg.id);
    const id = call ? call.id : undefined;
    if (msg.dropped !== undefined) {
      this.logLimiter.droppedByWorker(id, msg.dropped);
      if (!call) this.scheduleStrayReport();
      return;
    }
    let json = '';
    if (msg.obj && typeof msg.obj === 'object') {
      try {
        json = JSON.stringify(msg.obj) ?? '';
      } catch {
        json = '{"unserializable":true}';
      }
    }
    if (!this.logLimiter.admit(id, json.length + (msg.msg?.length ?? 0), performance.now())) {
      if (!call) this.scheduleStrayReport();
      return;
    }
    const obj = json && json.startsWith('{') ? (JSON.parse(this.redact(json)) as object) : {};
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
      w.worker.terminate();
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
    const dropped = this.logLimiter.finish(call.id);
    if (dropped > 0) this.log.warn({ event: 'functionLogDropped', id: call.request.id, dropped }, `log lines dropped: ${dropped}`);
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
