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
 *
 * A canary (issue 12: a rollout that sends a share of clients to a second version) is a second
 * current generation: while one is set, a new request pins the canary when the pure pick of
 * canary-pick.ts says its client belongs to the canary's share, else the stable one. The pick
 * hashes the client's identity, so every session of one machine lands on the same side, and a
 * session keeps the generation it pinned for its whole life like any other. `setCanary` sets
 * or removes the canary, and `promote` makes the canary's generation the stable one without
 * loading it again; both return the generation they replaced, for the caller to drain.
 */
import type { Invoker } from './invoker.js';
import { WorkerPool } from './worker-pool.js';
import { picksCanary } from './canary-pick.js';

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

  /**
   * `loadKey`: what was loaded, when more than the version (a fleet version with a fingerprint
   * of the secrets it was given, so a rotated secret loads the same version again).
   */
  constructor(
    readonly version: string,
    readonly invoker: Invoker,
    readonly loadKey: string = version,
  ) {}

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

/** A second current generation for `percent`% of clients' new sessions. */
export interface CanaryGeneration {
  readonly generation: Generation;
  readonly percent: number;
}

/** One function's current generation (and canary, if any) and the ones draining. */
export class Generations {
  current: Generation | undefined;
  canary: CanaryGeneration | undefined;
  readonly draining = new Set<Generation>();
  /** Pool counters of versions already shut down. */
  readonly retiredTotals: PoolTotals = zeroTotals();

  /** `name` is hashed into the canary pick (canary-pick.ts). */
  constructor(private readonly name = '') {}

  /**
   * Pins the generation serving new requests from the client `identity` (canary-pick.ts's
   * clientIdentity); undefined while none is loaded. Without an identity, the stable one.
   */
  pin(identity?: string): PinnedGeneration | undefined {
    const canary = this.canary;
    if (canary && identity !== undefined && picksCanary(identity, this.name, canary.percent)) return canary.generation.pin();
    return this.current?.pin();
  }

  /** The generation serving `version` as stable or canary, if any. */
  find(version: string): Generation | undefined {
    if (this.current?.version === version) return this.current;
    if (this.canary?.generation.version === version) return this.canary.generation;
    return undefined;
  }

  /** The versions serving new requests: the stable one first, then the canary. */
  serving(): string[] {
    return this.live().map((g) => g.version);
  }

  /** The load keys of the generations serving new requests, in the order of `serving()`. */
  servingKeys(): string[] {
    return this.live().map((g) => g.loadKey);
  }

  private live(): Generation[] {
    return [...(this.current ? [this.current] : []), ...(this.canary ? [this.canary.generation] : [])];
  }

  /**
   * Sets (or, with undefined, removes) the canary; returns the canary generation it replaced,
   * for `drain`. The same generation with a new percent replaces nothing.
   */
  setCanary(canary: CanaryGeneration | undefined): Generation | undefined {
    const old = this.canary?.generation;
    this.canary = canary;
    return old === canary?.generation ? undefined : old;
  }

  /** The canary becomes the stable generation, without loading it again; returns the previous stable one, for `drain`. */
  promote(): Generation | undefined {
    if (!this.canary) return undefined;
    const old = this.current;
    this.current = this.canary.generation;
    this.canary = undefined;
    return old;
  }

  /**
   * Makes a loaded, ready invoker the current generation; new requests pin it from now on.
   * Returns the previous generation, which the caller hands to `drain` once it has announced the
   * swap.
   */
  swap(version: string, invoker: Invoker, loadKey?: string): Generation | undefined {
    const old = this.current;
    this.current = new Generation(version, invoker, loadKey);
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

  /** Counters over every generation: shut, draining, current and canary. */
  totals(): PoolTotals {
    const live = addTotals(addTotals({ ...this.retiredTotals }, this.current?.invoker), this.canary?.generation.invoker);
    return [...this.draining].reduce((t, g) => addTotals(t, g.invoker), live);
  }

  /** Retires every generation; after `graceMs`, generations still pinned are shut regardless. */
  async close(graceMs: number): Promise<void> {
    const all = [...this.draining, ...(this.current ? [this.current] : []), ...(this.canary ? [this.canary.generation] : [])];
    this.current = undefined;
    this.canary = undefined;
    const timer = setTimeout(() => all.forEach((g) => void g.forceClose()), graceMs);
    await Promise.all(all.map((g) => g.retire()));
    clearTimeout(timer);
  }
}
