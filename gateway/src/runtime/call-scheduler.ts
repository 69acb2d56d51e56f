/**
 * Which call runs on which worker, and when: the queue, the one concurrency count and the
 * choice of worker. The pool decides what a call's timeout or crash means (worker-pool.ts) and
 * what its answer means (worker-answers.ts); this file only holds places.
 *
 *   queued ──worker free──▶ dispatched ──released (answered, failed, stream ended)──▶ gone
 *      ▲                       │
 *      └── at the front ───────┘ requeued once when its worker died before it answered
 *  - At most maxConcurrent calls are dispatched; as many more may wait; past that admit()
 *    says 'full' and the pool fails the call 'busy' at once.
 *  - The worker with the fewest calls gets the next one; a suspect worker (missed a deadline,
 *    pinged), one not ready yet or one being killed gets none.
 *  - A worker holds at most one retried call, so a culprit cannot take a second innocent down;
 *    a retried call may wait for such a worker while ordinary calls behind it go ahead.
 */
import type { BodyUpload } from './body-upload.js';
import type { FunctionRequest } from '../../../sdk/contract.js';
import type { FunctionResult } from './invoker.js';
import type { WorkerStreamReader } from './stream-reader.js';
import type { SupervisedWorker } from './worker-supervisor.js';

/** One invocation, from invoke() until it is settled and released. */
export interface Call {
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
  /** The function may read the upload itself (request.body). */
  readonly withBody?: boolean;
  /** Set once the function started reading it (pool-body.ts). */
  body?: BodyUpload;
}

/** A supervised worker with the calls placed on it. */
export interface PooledWorker extends SupervisedWorker {
  readonly calls: Map<number, Call>;
  /** Retried calls it holds: at most one, so a culprit cannot take a second innocent down. */
  retriedCalls: number;
  /** env.kv and cached() calls of this worker the store has not answered yet. */
  kvInflight: number;
}

export interface SchedulerHooks {
  /** The call now holds a slot on `w`: hand it to the worker. */
  dispatch(w: PooledWorker, call: Call): void;
  /** The call gave its slot back (before waiting calls are placed in it). */
  released(call: Call): void;
}

export class CallScheduler {
  private readonly queue: Call[] = [];
  private dispatched = 0;

  constructor(
    private readonly workers: Iterable<PooledWorker>,
    private readonly maxConcurrent: number,
    private readonly hooks: SchedulerHooks,
  ) {}

  /** Calls holding a worker now. */
  get active(): number {
    return this.dispatched;
  }

  /** Places a new call on a worker, or in the queue; 'full' when the queue is full too. */
  admit(call: Call): 'dispatched' | 'queued' | 'full' {
    if (this.tryDispatch(call)) return 'dispatched';
    if (this.queue.length >= this.maxConcurrent) return 'full';
    this.queue.push(call);
    return 'queued';
  }

  /** Calls waiting for a worker. */
  get waiting(): number {
    return this.queue.length;
  }

  /** Takes a call that never reached a worker out of the queue (it timed out waiting). */
  dequeue(call: Call): void {
    const at = this.queue.indexOf(call);
    if (at >= 0) this.queue.splice(at, 1);
  }

  /** Empties the queue (the pool is closing) and returns what waited. */
  drain(): Call[] {
    return this.queue.splice(0);
  }

  /**
   * Its worker died before it answered: it leaves that worker without releasing (no log
   * finish, no answer), is marked retried, and waits at the front of the queue. The caller
   * places waiting calls (pump) once every call of the dead worker is dealt with.
   */
  requeueFront(call: Call): void {
    call.worker?.calls.delete(call.id);
    call.retried = true;
    call.worker = undefined;
    this.dispatched--;
    this.queue.unshift(call);
  }

  /** The call no longer holds a concurrency slot or a place on its worker; waiting calls go. */
  release(call: Call): void {
    const w = call.worker;
    if (!w || !w.calls.delete(call.id)) return;
    this.hooks.released(call);
    if (call.retried) w.retriedCalls--;
    this.dispatched--;
    this.pump();
  }

  /** Places waiting calls, oldest first, while there are slots and workers for them. */
  pump(): void {
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
      if (!call.retried || this.dispatched >= this.maxConcurrent) return;
      i++;
    }
  }

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
    if (this.dispatched >= this.maxConcurrent) return false;
    const w = this.pickWorker(call.retried);
    if (!w) return false;
    this.dispatched++;
    call.worker = w;
    if (call.retried) w.retriedCalls++;
    w.calls.set(call.id, call);
    this.hooks.dispatch(w, call);
    return true;
  }
}
