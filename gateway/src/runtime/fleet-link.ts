/**
 * The fleet source's line to the control plane (issue 12): every call bounded in time (a client
 * that queues while disconnected would otherwise hang a start or a poll), and whether the plane
 * is reachable, learnt from those calls. The first failure of an outage is logged once (after
 * start: a start logs its own summary line); the first success after it is logged once and
 * handed to `onBack`, which re-reads every rollout.
 */
import type { Logger } from 'pino';
import type { ControlPlane } from '../control/control-plane.js';

/** Settles as `work` does, or rejects after `ms` (the work's late result is ignored). */
export function within<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer from the control plane in ${ms} ms`)), ms);
    timer.unref(); // a bound, not a reason to keep the process alive
  });
  work.catch(() => {}); // a rejection after the timeout is not unhandled
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

export class ControlLink {
  /** Why the control plane is unreachable (the last call's error), or undefined while it answers. */
  unreachable: string | undefined;
  /** Set once start is over: outages from then on log their own line. */
  started = false;
  closed = false;

  constructor(
    readonly cp: ControlPlane,
    readonly callMs: number,
    readonly now: () => Date,
    private readonly log: Logger,
    private readonly onBack: () => void,
  ) {}

  /** A control plane call, bounded by `ms` (default: the call timeout). */
  call<T>(what: string, work: () => Promise<T>, ms = this.callMs): Promise<T> {
    return within(Promise.resolve().then(work), ms, what);
  }

  markUnreachable(e: unknown): void {
    if (this.unreachable || this.closed) return; // a call cut short by shutdown is no outage
    this.unreachable = (e as Error)?.message ?? String(e);
    if (this.started) this.log.warn({ event: 'controlPlaneUnreachable', err: e }, `control plane unreachable (${this.unreachable}); the versions serving go on serving`);
  }

  /** The control plane answered: after an outage, every rollout is read again at once. */
  markReachable(): void {
    if (!this.unreachable) return;
    this.unreachable = undefined;
    if (this.closed) return;
    this.log.info({ event: 'controlPlaneReachable' }, 'control plane reachable again; re-reading every rollout');
    this.onBack();
  }
}
