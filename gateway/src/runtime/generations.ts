/**
 * A function's generations: the one serving new requests (`current`) and older ones still
 * finishing transfers (`draining`).
 *
 * A generation is one loaded version and its invoker (a worker pool, or the in-process invoker).
 * A request pins the current generation when it starts and releases it when its transfer ends,
 * so a transfer runs on the version it started on from its first block to its last.
 *  - swap: the caller (reload.ts) has already loaded the new version, every worker ready, before
 *    it calls `swap`; from then on new requests pin the new generation, and the old one is
 *    retired: it takes no new requests, and its pool is shut when the last pin is released.
 *  - close(graceMs): every generation is retired; after graceMs the ones still pinned are shut
 *    regardless, and their transfers fail.
 * Counters of pools already shut are kept (`retiredTotals`), so a function's totals carry over
 * reloads.
 */
import type { Invoker } from './invoker.js';
import { WorkerPool } from './worker-pool.js';

/** A generation pinned by one request; the shape handlers/function.ts calls PinnedVersion. */
export interface PinnedGeneration {
  readonly version: string;
  readonly invoker: Invoker;
  release(): void;
}

import type { PoolTotals } from './pool-spec.js';

export type { PoolTotals };

export const zeroTotals = (): PoolTotals => ({ invocations: 0, failures: 0, timeouts: 0, crashes: 0, retries: 0, restarts: 0 });

/** Adds a worker pool's counters into `into` (an in-process invoker has none). */
export function addTotals(into: PoolTotals, invoker: Invoker | undefined): PoolTotals {
  if (invoker instanceof WorkerPool) for (const k of Object.keys(into) as (keyof PoolTotals)[]) into[k] += invoker.stats[k];
  return into;
}

export class Generation {
  private refs = 0;
  private retiring: Promise<void> | undefined;
  private resolveRetired: () => void = () => {};
  private closing: Promise<void> | undefined;

  constructor(readonly version: string, readonly invoker: Invoker) {}

  pin(): PinnedGeneration {
    this.refs++;
    let released = false;
    return {
      version: this.version,
      invoker: this.invoker,
      release: () => {
        if (released) return;
        released = true;
        this.refs--;
        this.closeIfIdle();
      },
    };
  }

  /** Takes no new requests; resolves once the pinned ones are done and the pool is shut. */
  retire(): Promise<void> {
    if (!this.retiring) {
      this.retiring = new Promise<void>((r) => (this.resolveRetired = r));
      this.closeIfIdle();
    }
    return this.retiring;
  }

  /** Shuts the pool now, whoever still holds it (their transfers fail). */
  forceClose(): Promise<void> {
    void this.retire();
    this.shut();
    return this.retiring!;
  }

  private closeIfIdle(): void {
    if (this.retiring && this.refs === 0) this.shut();
  }

  private shut(): void {
    this.closing ??= this.invoker.close().then(() => this.resolveRetired());
  }
}

/** One function's current generation and the ones draining. */
export class Generations {
  current: Generation | undefined;
  readonly draining = new Set<Generation>();
  /** Pool counters of versions already shut down. */
  readonly retiredTotals: PoolTotals = zeroTotals();

  /** Pins the generation serving new requests; undefined while none is loaded. */
  pin(): PinnedGeneration | undefined {
    return this.current?.pin();
  }

  /**
   * Makes a loaded, ready invoker the current generation; new requests pin it from now on.
   * Returns the previous generation, which the caller hands to `drain` once it has announced the
   * swap.
   */
  swap(version: string, invoker: Invoker): Generation | undefined {
    const old = this.current;
    this.current = new Generation(version, invoker);
    return old;
  }

  /** Retires a replaced generation; `onRetired` is told once its last pin is released and its pool shut. */
  drain(old: Generation, onRetired: (old: Generation) => void): void {
    this.draining.add(old);
    void old.retire().then(() => {
      this.draining.delete(old);
      addTotals(this.retiredTotals, old.invoker);
      onRetired(old);
    });
  }

  /** Counters over every generation: shut, draining and current. */
  totals(): PoolTotals {
    return [...this.draining].reduce((t, g) => addTotals(t, g.invoker), addTotals({ ...this.retiredTotals }, this.current?.invoker));
  }

  /** Retires every generation; after `graceMs`, generations still pinned are shut regardless. */
  async close(graceMs: number): Promise<void> {
    const all = [...this.draining, ...(this.current ? [this.current] : [])];
    this.current = undefined;
    const timer = setTimeout(() => all.forEach((g) => void g.forceClose()), graceMs);
    await Promise.all(all.map((g) => g.retire()));
    clearTimeout(timer);
  }
}
