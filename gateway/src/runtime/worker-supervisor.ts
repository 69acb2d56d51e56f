/**
 * Keeps a pool's workers alive: starts each one (worker-start.ts: a sandboxed child process,
 * isolation 'process', the default, a warm spare adopted, or a worker thread, isolation
 * 'thread', for trusted code only), waits for it to load the bundle, probes one that missed a deadline, kills one that misbehaves,
 * and replaces one that died. What the workers are given to do is worker-pool.ts's business;
 * this file never looks at a call.
 *
 * A worker's life:
 *   spawned ──ready──▶ ready ──deadline missed──▶ suspect ──pong──▶ ready
 *      │                  │                          │
 *      │ loadError,       │ exit, violation          │ no pong within the grace
 *      │ load timeout,    ▼                          ▼
 *      └─ exit ──────▶ gone ◀──────────────────── killed (terminated as stuck)
 *  - Loading: the first message must be `ready` or `loadError`, within loadTimeoutMs (default
 *    max(10 s, timeoutMs)); otherwise the version is rejected with a FunctionLoadError. A worker
 *    that fails to load is not replaced (the bundle is at fault, not the worker).
 *  - Every message is checked (message-check.ts) before anyone acts on it; one no honest worker
 *    sends kills the worker (`violation`).
 *  - A probe pings a worker and terminates it if no pong comes within
 *    min(1 s, max(100 ms, timeoutMs / 4)): a synchronous loop, or a process stopped with SIGSTOP,
 *    cannot answer.
 *  - A worker that died after loading is reported to the pool (`crashed`: retry or fail what it
 *    held) and replaced, after the wait restart-backoff.ts decides.
 */
import type { Logger } from 'pino';
import { checkFromWorker } from './message-check.js';
import { SANDBOX_OVERHEAD_MB, type PoolSpec, type PoolStats } from './pool-spec.js';
import { RestartBackoff } from './restart-backoff.js';
import { removeTempDir } from './temp-dirs.js';
import type { WorkerExit, WorkerHandle } from './worker-handle.js';
import type { WorkerLogs } from './worker-logs.js';
import type { FromWorker } from './worker-protocol.js';
import { prepareSandbox, startWorker, type PoolSandbox } from './worker-start.js';

export class FunctionLoadError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FunctionLoadError';
  }
}

/** One worker, as the supervisor tracks it; the pool adds its own fields (see `create`). */
export interface SupervisedWorker {
  readonly worker: WorkerHandle;
  ready: boolean;
  /** Missed a deadline: no new work until it answers a ping. */
  suspect: boolean;
  /** Why we terminated it, when we did. */
  killReason: string | undefined;
  /** Told whether the worker answered the ping in flight (true) or was terminated (false). */
  probeWaiters: ((alive: boolean) => void)[];
  /** Called once it has exited (close() waits for it). */
  onGone: (() => void) | undefined;
}

/** What the supervisor tells the pool. */
export interface SupervisorHooks<W extends SupervisedWorker> {
  /** Makes the pool's record of a new worker from the supervisor's. */
  create(base: SupervisedWorker): W;
  /** A worker became ready, or answered a ping: queued calls may go. */
  available(): void;
  /** A checked message of a loaded worker other than ready, loadError and pong. */
  message(w: W, msg: FromWorker): void;
  /** A loaded worker exited because the pool closed. */
  retired(w: W): void;
  /** A loaded worker died (`why`: for the log); it will be replaced. */
  crashed(w: W, why: string, exit: WorkerExit): void;
}

export class WorkerSupervisor<W extends SupervisedWorker> {
  readonly workers = new Set<W>();
  private closing = false;
  private nextPing = 1;
  private readonly backoff = new RestartBackoff();
  private restartTimer: NodeJS.Timeout | undefined;
  private sandbox: PoolSandbox | undefined;

  constructor(
    private readonly spec: PoolSpec,
    private readonly log: Logger,
    private readonly logs: WorkerLogs,
    private readonly stats: PoolStats,
    private readonly hooks: SupervisorHooks<W>,
  ) {}

  get isolation(): 'process' | 'thread' {
    return this.spec.isolation ?? 'process';
  }

  get memoryMb(): number {
    return this.spec.memoryMb ?? this.spec.heapMb + SANDBOX_OVERHEAD_MB;
  }

  /**
   * Prepares the sandbox (rejects if it cannot) and starts every worker; resolves, once all have
   * settled, with the first failure to load, if any (the caller then closes).
   */
  async start(): Promise<PromiseRejectedResult | undefined> {
    if (this.isolation === 'process') this.sandbox = await prepareSandbox(this.spec, this.memoryMb, this.log);
    const starting = Array.from({ length: this.spec.size }, () => this.spawn());
    const results = await Promise.allSettled(starting);
    return results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  }

  /** Stops replacing workers, terminates every one and waits for them to exit. */
  async close(): Promise<void> {
    this.closing = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
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

  /** A message no honest worker sends: the worker is killed, its calls fail or are retried. */
  violation(w: W, what: string): void {
    if (w.killReason) return;
    this.log.error({ event: 'workerProtocolViolation', reason: what }, `function worker sent ${what}; killing it`);
    w.killReason = `was killed for sending ${what}`;
    w.worker.terminate();
  }

  /** Pings a worker that missed a deadline; terminates it if it cannot answer (stuck). */
  probe(w: W, then?: (alive: boolean) => void): void {
    if (then) w.probeWaiters.push(then);
    if (w.suspect || w.killReason) return;
    w.suspect = true;
    const seq = this.nextPing++;
    const grace = Math.min(1000, Math.max(100, this.spec.timeoutMs / 4));
    w.worker.send({ t: 'ping', seq });
    setTimeout(() => {
      if (!w.suspect || w.killReason || !this.workers.has(w)) return;
      w.killReason = `was stuck (no answer ${grace} ms after a ${this.spec.timeoutMs} ms limit passed)`;
      w.worker.terminate();
    }, grace).unref?.();
  }

  private spawn(): Promise<void> {
    let onMessage: (raw: unknown) => void = () => {};
    let onExit: (exit: WorkerExit) => void = () => {};
    const events = { message: (raw: unknown) => onMessage(raw), exit: (exit: WorkerExit) => onExit(exit) };
    const { worker, ownDir } = startWorker(this.spec, this.sandbox, this.memoryMb, events, this.log);
    const w = this.hooks.create({ worker, ready: false, suspect: false, killReason: undefined, probeWaiters: [], onGone: undefined });
    this.workers.add(w);
    this.logs.pipe(worker.stdout, 'stdout');
    this.logs.pipe(worker.stderr, 'stderr');

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
          this.hooks.available();
          return;
        }
        if (msg.t === 'loadError') {
          if (loaded) return this.violation(w, 'a "loadError" message after loading');
          loaded = true;
          clearTimeout(loadTimer);
          w.killReason = 'load failed';
          worker.terminate();
          reject(new FunctionLoadError(this.logs.redact(msg.message)));
          return;
        }
        if (msg.t === 'pong') {
          w.suspect = false;
          for (const waiter of w.probeWaiters.splice(0)) waiter(true);
          this.hooks.available();
          return;
        }
        this.hooks.message(w, msg);
      };
      onExit = (exit) => {
        clearTimeout(loadTimer);
        if (ownDir) removeTempDir(ownDir);
        this.workers.delete(w);
        if (!loaded) {
          loaded = true;
          reject(new FunctionLoadError(`${this.spec.name}@${this.spec.version}: the worker died while loading the bundle: ${this.logs.redact(this.exitReason(w, exit))}`));
        }
        this.onExit(w, exit);
        w.onGone?.();
      };
    });
  }

  private onExit(w: W, exit: WorkerExit): void {
    for (const waiter of w.probeWaiters.splice(0)) waiter(false);
    if (!w.ready) {
      // Never got going: nothing was dispatched to it.
      if (!this.closing && w.killReason !== 'load failed' && w.killReason !== 'load timeout') this.scheduleRestart();
      return;
    }
    if (w.killReason === 'pool closed') return this.hooks.retired(w);
    const why = this.exitReason(w, exit);
    this.stats.crashes++;
    this.hooks.crashed(w, why, exit);
    this.scheduleRestart();
  }

  private exitReason(w: W, exit: WorkerExit): string {
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

  private scheduleRestart(): void {
    if (this.closing || this.restartTimer) return;
    // A function that kills every worker it gets must not turn the gateway into a fork bomb.
    const delay = this.backoff.next(Date.now());
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
}
