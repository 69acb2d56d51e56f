/**
 * Hot reload, per function: trigger → ask the version source → load → swap → drain.
 *
 *  - Triggers: the fleet source (fleet-source.ts: a control plane's watch, its controlPollMs
 *    poll and the re-read after an outage), the deploy poll (DeployPoll, every reloadPollMs, for
 *    a runtime given a deploy folder but no control plane: new functions are discovered and
 *    every deploy-folder function is asked for its current version), a change of an entry's
 *    files (FunctionRuntime.rebuild, called by source-watch.ts's debounced watch in `tftpfn dev`:
 *    the entry source is invalidated first), and start-up.
 *  - Ask: the function's VersionSource (version-sources.ts) names its current version (an entry
 *    source bundles it with esbuild). A version that is already serving, or that failed to load
 *    before, is skipped, so a broken deploy is tried once, not on every poll, and never stops the
 *    previous version serving.
 *  - Load: a fresh invoker (a worker pool, every worker ready) while the old one keeps serving.
 *  - Swap and drain: generations.ts makes it current; the old generation finishes the transfers
 *    pinned to it and is shut when the last one lets go.
 *  - A canary (a fleet rollout's second version, issue 12): the source's answer may name one
 *    (`spec.canary`); it is loaded beside the stable version and set as the second current
 *    generation (generations.ts), a promote makes it stable without loading it again, and a
 *    canary that fails to load is reported and never serves while the stable one goes on.
 * Reloads of one function run one at a time, and a burst of triggers while one is loading
 * collapses into one more attempt, which loads the newest version. A change (not a poll) also
 * abandons the attempt under way: its build is cancelled (or its late result ignored), a pool it
 * loaded is shut unseen, and the next attempt starts at once; only an attempt that no newer
 * change overtook ever swaps, so a stale build never becomes current after a newer one.
 *
 * Every step reports a ReloadNotice (reload-notices.ts: the union, its one reporter and the
 * ReloadBus that `FunctionRuntime.subscribe` exposes); the deploy poll trigger is deploy-poll.ts.
 */
import { performance } from 'node:perf_hooks';
import { Generation, type Generations } from './generations.js';
import type { Invoker } from './invoker.js';
import type { ReloadNotice } from './reload-notices.js';
import type { VersionSource, VersionSpec } from './version-sources.js';

// Named here too for the reload's existing importers (cli/dev.ts, tests).
export type { ReloadComplete, ReloadEvent, ReloadFailed, ReloadNotice } from './reload-notices.js';

/** What started a reload: a poll or start-up asks again; a change means the files changed. */
export type ReloadTrigger = 'poll' | 'change';

/** Settles as `work` does, or rejects with the signal's reason as soon as it is aborted. */
function untilAborted<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
    // A late settlement of abandoned work lands on a settled promise: ignored, never unhandled.
    work.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

/** What a spec loads: its load key, else its version. */
const keyOf = (s: VersionSpec): string => s.loadKey ?? s.version;

/** One function's reloads: serialised, bursts merged, a failed version remembered. */
export class Reloader {
  private chain: Promise<void> | undefined;
  private again = false;
  private changed = false; // a change arrived since the last attempt began
  private attempt: AbortController | undefined; // aborts the attempt under way
  /** Versions (load keys) that failed to load since the stable version last changed, with why: not tried again until then. */
  private readonly failedVersions = new Map<string, string>();
  /** Why the last reload attempt failed, if it did. */
  lastError: string | undefined;

  constructor(
    private readonly name: string,
    private readonly source: VersionSource,
    private readonly load: (spec: VersionSpec) => Promise<Invoker>,
    private readonly generations: Generations,
    private readonly emit: (n: ReloadNotice) => void,
  ) {}

  /**
   * Loads the source's current version if it is new; resolves when that attempt (and any it
   * merged) is over. A 'change' abandons the attempt under way, which a newer build replaces.
   */
  reload(trigger: ReloadTrigger = 'poll'): Promise<void> {
    if (trigger === 'change') {
      this.source.invalidate?.();
      this.changed = true;
      this.attempt?.abort();
    }
    if (this.chain) {
      this.again = true;
      return this.chain;
    }
    this.chain = (async () => {
      do {
        this.again = false;
        const change = this.changed;
        this.changed = false;
        const attempt = (this.attempt = new AbortController());
        await this.reloadOnce(change, attempt.signal);
      } while (this.again);
    })().finally(() => {
      this.chain = undefined;
      this.attempt = undefined;
    });
    return this.chain;
  }

  /** Abandons the attempt under way (shutdown need not wait for a build). */
  abort(): void {
    this.attempt?.abort();
  }

  /** Resolves once no reload is running (close waits for it before retiring generations). */
  async settled(): Promise<void> {
    await this.chain;
  }

  private async reloadOnce(change: boolean, signal: AbortSignal): Promise<void> {
    if (change) this.emit({ type: 'buildStarted', function: this.name });
    let spec: VersionSpec | undefined;
    try {
      // Not waiting for an abandoned build: the next attempt starts at once.
      spec = await untilAborted(this.source.current(signal), signal);
    } catch (e) {
      if (signal.aborted) return this.abandoned(undefined);
      this.lastError = (e as Error).message;
      this.emit({ type: 'sourceFailed', function: this.name, err: e });
      return;
    }
    if (!spec) return;
    const gens = this.generations;
    // A generation serves a spec when it loaded the same thing: the version, and its load key.
    const serves = (g: Generation | undefined, s: VersionSpec) => g !== undefined && g.version === s.version && g.loadKey === keyOf(s);
    const stableServing = serves(gens.current, spec);
    const promoting = !stableServing && serves(gens.canary?.generation, spec);
    if (!stableServing && !promoting && this.failedVersions.has(keyOf(spec))) {
      if (change) this.emit({ type: 'reloadUnchanged', function: this.name, version: spec.version, error: this.failedVersions.get(keyOf(spec)) });
      return;
    }
    // The canary the rollout names, unless it is the stable one or failed before (then none serves).
    const wanted = spec.canary && spec.canary.spec.version !== spec.version && !this.failedVersions.has(keyOf(spec.canary.spec)) ? spec.canary : undefined;
    const canaryServing = wanted !== undefined && serves(gens.canary?.generation, wanted.spec);
    const canaryUnchanged = wanted ? canaryServing && wanted.percent === gens.canary?.percent : gens.canary === undefined;
    if (stableServing && canaryUnchanged) {
      if (change) this.emit({ type: 'reloadUnchanged', function: this.name, version: spec.version });
      return;
    }

    const previous = gens.current?.version;
    let stable: { invoker: Invoker; loadMs: number } | undefined;
    if (!stableServing && !promoting) {
      stable = await this.loadOne(spec, previous, signal);
      if (!stable) return;
    }
    let canary: { invoker: Invoker; loadMs: number } | undefined;
    if (wanted && !canaryServing) {
      canary = await this.loadOne(wanted.spec, gens.canary?.generation.version ?? previous, signal);
      if (signal.aborted) {
        if (stable) void stable.invoker.close();
        return;
      }
    }
    if (signal.aborted) {
      // A pool cannot stop starting midway, so it was awaited; it never serves.
      if (stable) void stable.invoker.close();
      if (canary) void canary.invoker.close();
      return this.abandoned(spec.version);
    }

    // Everything is loaded and ready: switch in one step, then drain what was replaced.
    const replaced: Generation[] = [];
    if (stable || promoting) {
      const old = stable ? gens.swap(spec.version, stable.invoker, keyOf(spec)) : gens.promote();
      if (old) replaced.push(old);
      this.failedVersions.clear();
      this.lastError = undefined;
      this.emit({ type: 'reloadComplete', function: this.name, version: spec.version, previous, ok: true, loadMs: stable?.loadMs ?? 0 });
    }
    const canaryBefore = gens.canary?.generation.version;
    if (canary && wanted) {
      const old = gens.setCanary({ generation: new Generation(wanted.spec.version, canary.invoker, keyOf(wanted.spec)), percent: wanted.percent });
      if (old) replaced.push(old);
      this.emit({ type: 'reloadComplete', function: this.name, version: wanted.spec.version, previous: canaryBefore ?? previous, ok: true, loadMs: canary.loadMs });
    } else if (wanted && canaryServing && gens.canary) {
      gens.setCanary({ generation: gens.canary.generation, percent: wanted.percent });
    } else if (gens.canary) {
      // No canary named, or the one named failed to load: the rollout no longer names the old one.
      const old = gens.setCanary(undefined);
      if (old) replaced.push(old);
    }
    for (const old of replaced) gens.drain(old, (g: Generation) => this.emit({ type: 'versionRetired', function: this.name, version: g.version }));
  }

  /** Loads one version; on failure it is remembered (tried once, not on every poll) and reported. */
  private async loadOne(spec: VersionSpec, previous: string | undefined, signal: AbortSignal): Promise<{ invoker: Invoker; loadMs: number } | undefined> {
    const started = performance.now();
    try {
      const invoker = await this.load(spec);
      return { invoker, loadMs: performance.now() - started };
    } catch (e) {
      if (signal.aborted) {
        this.abandoned(spec.version);
        return undefined;
      }
      const error = (e as Error).message;
      this.failedVersions.set(keyOf(spec), error);
      this.lastError = error;
      this.emit({ type: 'reloadFailed', function: this.name, version: spec.version, previous, ok: false, loadMs: performance.now() - started, error });
      return undefined;
    }
  }

  private abandoned(version: string | undefined): void {
    this.emit({ type: 'reloadAbandoned', function: this.name, version });
  }
}
