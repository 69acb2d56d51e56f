/**
 * What a worker pool is asked to run: one version of one function, and the limits around it.
 * Read by the pool (worker-pool.ts: timeoutMs, onInvocation, and maxConcurrent, which it hands
 * to the scheduler, call-scheduler.ts), by what a worker's messages do to its calls
 * (worker-answers.ts: streamHighWaterBytes, kv) and by the supervisor (worker-supervisor.ts:
 * bundle, isolation, heap and memory limits, the sandbox user, allowRead, loadTimeoutMs); kept
 * apart so none of them imports another for its types.
 */
import type { FunctionKv, InvocationObserver } from './invoker.js';
import type { LogLimits } from './log-limiter.js';
import type { SpareSupply } from './warm-spare.js';

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
  /** A warm spare process to adopt instead of starting one (isolation 'process'; warm-spare.ts). */
  readonly spare?: SpareSupply;
}

export const DEFAULT_LOG_LIMITS: LogLimits = { linesPerInvocation: 1000, bytesPerInvocation: 1024 * 1024, linesPerSecond: 2000 };

/** Node's own share of a sandboxed process's data segment, on top of the V8 heap. */
export const SANDBOX_OVERHEAD_MB = 384;

/** A pool's invocation and worker counters, summed over a function's versions for its status. */
export interface PoolTotals {
  invocations: number;
  /** User code threw, rejected or returned something that is not a Response. */
  failures: number;
  timeouts: number;
  /** Workers that died: heap limit, process.exit, uncaught exception, terminated as stuck. */
  crashes: number;
  /** Invocations run again after their worker died under them. */
  retries: number;
  restarts: number;
}

/** The pool's counters, for metrics and tests; the scheduler and the supervisor each count their own. */
export interface PoolStats extends PoolTotals {
  /** env.kv / cached() calls answered as misses because too many were already waiting. */
  kvRefused: number;
}
