/**
 * The gateway side of the control plane (issue 12): follows every function's Rollout, fetches
 * and verifies the versions it names, loads them through the reload pipeline, acknowledges, and
 * keeps what it serves on local disk for a start without the control plane.
 *
 *  - Which functions: every one the control plane knows, and every one the routes (or the config
 *    without an entry) name, so a route to a function never deployed shows on /readyz.
 *  - Triggers: ControlPlane.watch (pub/sub, or a folder poll) reloads the function it names at
 *    once; every `pollMs` all of them are re-read, the fallback for a missed message and the
 *    catch-up after an outage; a heartbeat every `heartbeatMs` says this gateway is live.
 *  - Resolve (FleetFunctionSource.current, asked by reload.ts): the rollout's stable version and
 *    canary, each as a VersionSpec: its record (immutable, remembered), its bundle
 *    (fetchBundle checks the sha256; checked again here before the bytes are cached), the
 *    settings that travel with it and the function's secrets. When the versions asked for are
 *    the ones serving, nothing is fetched: the reload finds nothing to do.
 *  - Ack: after each reload, what serves now against what the rollout asked for: ok, or the
 *    reason (a hash mismatch, a load error). A rejected version never serves: the reload
 *    pipeline keeps the previous one. One ack per change, retried while the control plane is
 *    unreachable.
 *  - Outage: when the control plane cannot be read and a function serves nothing yet (a start
 *    while Redis or the bucket is down), the versions this gateway last served come from the
 *    disk cache (fleet-cache.ts), with one log line saying so; `degraded()` names the state for
 *    /readyz and the heartbeat. A function already serving keeps its version. When the control
 *    plane answers again, every rollout is re-read at once.
 */
import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import type { ControlPlane, Rollout, VersionRecord } from '../control/control-plane.js';
import type { FleetCache, ServedState } from './fleet-cache.js';
import type { VersionSource, VersionSourceKind, VersionSpec } from './version-sources.js';

/** What the fleet source needs of the function runtime: its slots, by name. */
export interface FleetSlots {
  /** Adds a slot fed by `source` unless the function already has one (an entry, in process): false then. */
  ensure(name: string, source: VersionSource): boolean;
  /** Reloads the function from its source; resolves once that attempt is over. */
  reload(name: string): Promise<void>;
  /** The versions serving new requests (stable first, then the canary) and the canary's percent. */
  serving(name: string): { readonly versions: readonly string[]; readonly canaryPercent?: number };
  /** Why the function's last reload failed, if it did. */
  lastError(name: string): string | undefined;
}

export interface FleetOptions {
  readonly controlPlane: ControlPlane;
  readonly cache: FleetCache;
  readonly gatewayId: string;
  readonly log: Logger;
  readonly pollMs: number;
  readonly heartbeatMs: number;
  /** Functions followed even before the control plane knows them: the ones routes name. */
  readonly names: readonly string[];
  /** Longest wait for one control plane call before it counts as unreachable (a client that queues while disconnected would hang start). */
  readonly callTimeoutMs?: number;
  /**
   * The same for the first call at start (default 2000): a start while the control plane is down
   * should serve the cache soon, and a control plane that was only slow is caught up with by the
   * next heartbeat.
   */
  readonly startTimeoutMs?: number;
  readonly now?: () => Date;
}

/** Settles as `work` does, or rejects after `ms` (the work's late result is ignored). */
function within<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer from the control plane in ${ms} ms`)), ms);
    timer.unref(); // a bound, not a reason to keep the process alive
  });
  work.catch(() => {}); // a rejection after the timeout is not unhandled
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

/** How long a bundle that could not be fetched (or failed its hash) is left alone while the function serves another version. */
export const FETCH_RETRY_MS = 15_000;

/** The words /readyz and the heartbeat carry while the gateway serves what it cached. */
export const DEGRADED_CACHED = 'control plane unreachable, serving cached versions';
export const DEGRADED_EMPTY = 'control plane unreachable';

/** The versions a rollout asks for: stable first, then the canary. */
export function rolloutVersions(r: Pick<Rollout, 'stable' | 'canary'>): string[] {
  return [r.stable, ...(r.canary && r.canary.version !== r.stable ? [r.canary.version] : [])];
}

const sameList = (a: readonly string[], b: readonly string[]) => a.length === b.length && a.every((x, i) => x === b[i]);

/** One function's versions as the control plane rolls them out: what reload.ts asks. */
class FleetFunctionSource implements VersionSource {
  constructor(
    readonly kind: VersionSourceKind,
    private readonly fleet: FleetSource,
    private readonly name: string,
  ) {}

  current(): Promise<VersionSpec | undefined> {
    return this.fleet.resolve(this.name);
  }
}

export class FleetSource {
  private slots: FleetSlots | undefined;
  private readonly cp: ControlPlane;
  private readonly records = new Map<string, VersionRecord>();
  /** The rollout each function was last read at (the ack names its revision). */
  private readonly rollouts = new Map<string, Rollout>();
  /**
   * Bundles that could not be fetched or failed their hash check (by function NUL version), and
   * when: not fetched again for FETCH_RETRY_MS while the function serves something, so a damaged
   * bundle costs one download and one log line per period, not one per poll.
   */
  private readonly failedFetches = new Map<string, { atMs: number; error: string }>();
  /** Why the last resolve of a function failed (a fetch, a hash mismatch), until one succeeds. */
  private readonly resolveErrors = new Map<string, string>();
  /** The secrets the function's pools were last given (cached to disk with what it serves). */
  private readonly secretsFor = new Map<string, Record<string, string>>();
  private readonly acked = new Map<string, string>();
  private readonly written = new Map<string, string>();
  private readonly followed = new Set<string>();
  private readonly notOurs = new Set<string>();
  /** Functions serving versions from the disk cache because the control plane could not deliver. */
  private readonly fromCache = new Set<string>();
  private unreachable: string | undefined;
  private polling: Promise<void> | undefined;
  private pollTimer: NodeJS.Timeout | undefined;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private unwatch: (() => void) | undefined;
  private beating: Promise<void> | undefined;
  private closed = false;
  private readonly now: () => Date;
  private readonly callMs: number;

  constructor(private readonly opts: FleetOptions) {
    this.cp = opts.controlPlane;
    this.now = opts.now ?? (() => new Date());
    this.callMs = opts.callTimeoutMs ?? 5000;
  }

  /** A control plane call, bounded in time. */
  private call<T>(what: string, work: () => Promise<T>): Promise<T> {
    return within(Promise.resolve().then(work), this.callMs, what);
  }

  /** The kind status() reports: a folder control plane is the deploy folder it always was. */
  get kind(): VersionSourceKind {
    return this.cp.kind === 'folder' ? 'deploy' : 'fleet';
  }

  /**
   * Follows every function and loads its current versions (from the disk cache when the control
   * plane is unreachable), then starts watching, polling and the heartbeat. Resolves when the
   * first loads are over: the gateway reports ready after this.
   */
  async start(slots: FleetSlots): Promise<void> {
    this.slots = slots;
    let names: string[];
    try {
      names = await within(Promise.resolve().then(() => this.cp.functions()), this.opts.startTimeoutMs ?? Math.min(this.callMs, 2000), 'functions');
    } catch (e) {
      this.markUnreachable(e);
      names = await this.opts.cache.functions();
    }
    for (const name of [...names, ...this.opts.names]) this.follow(name);
    // Watching before the first loads: a rollout changed meanwhile is not left for the poll.
    try {
      this.unwatch = this.cp.watch((name) => {
        if (this.closed) return;
        this.follow(name);
        if (this.followed.has(name)) void this.settle(name);
      });
    } catch (e) {
      // Without announcements the poll still finds every change, controlPollMs later.
      this.opts.log.error({ event: 'controlWatchFailed', err: e }, `cannot watch the control plane for changes; rollouts are read every ${this.opts.pollMs} ms`);
    }
    await Promise.all([...this.followed].map((n) => this.settle(n)));
    if (this.unreachable || this.fromCache.size > 0) {
      // The one line a start without the control plane logs (later outages log their own).
      const reason = this.unreachable ?? this.resolveErrorSummary();
      const served = [...this.fromCache].map((n) => `${n}@${slots.serving(n).versions.join('+')}`).join(', ');
      this.opts.log.warn(
        { event: 'controlPlaneDegraded', reason, functions: [...this.fromCache], cacheDir: this.opts.cache.dir },
        served
          ? `control plane unreachable (${reason}); serving the versions cached in ${this.opts.cache.dir}: ${served}`
          : `control plane unreachable (${reason}); nothing cached in ${this.opts.cache.dir}, so no deployed function serves until it answers`,
      );
    }
    this.pollTimer = setInterval(() => void this.poll(), this.opts.pollMs);
    this.pollTimer.unref();
    this.beat();
    this.heartbeatTimer = setInterval(() => this.beat(), this.opts.heartbeatMs);
    this.heartbeatTimer.unref();
  }

  /** Why the gateway is degraded, for /readyz and the heartbeat; undefined when it is not. */
  degraded(): string | undefined {
    if (this.unreachable) return this.servingAny() ? DEGRADED_CACHED : DEGRADED_EMPTY;
    if (this.fromCache.size > 0) return `serving cached versions of ${[...this.fromCache].sort().join(', ')}: the control plane cannot deliver their bundles`;
    return undefined;
  }

  /** Every followed function's name. */
  names(): string[] {
    return [...this.followed].sort();
  }

  /** Discovers new functions and re-reads every rollout; one poll at a time. */
  poll(): Promise<void> {
    if (this.closed || !this.slots) return Promise.resolve();
    this.polling ??= (async () => {
      try {
        let names: string[] = [];
        try {
          names = await this.call('functions', () => this.cp.functions());
          this.markReachable();
        } catch (e) {
          this.markUnreachable(e);
        }
        for (const name of names) this.follow(name);
        await Promise.all([...this.followed].map((n) => this.settle(n)));
      } catch (e) {
        this.opts.log.error({ event: 'fleetPollFailed', err: e }, 'reading the rollouts failed');
      } finally {
        this.polling = undefined;
      }
    })();
    return this.polling;
  }

  /** Stops watching, polling and the heartbeat; resolves once a poll under way is over. Does not close the control plane. */
  async close(): Promise<void> {
    this.closed = true;
    this.unwatch?.();
    if (this.pollTimer) clearInterval(this.pollTimer);
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
    await this.polling;
    await this.beating;
  }

  /** One heartbeat at a time: a slow control plane does not pile them up. */
  private beat(): void {
    this.beating ??= this.heartbeat().finally(() => (this.beating = undefined));
  }

  private follow(name: string): void {
    if (this.followed.has(name) || this.notOurs.has(name) || !this.slots) return;
    if (this.slots.ensure(name, new FleetFunctionSource(this.kind, this, name))) this.followed.add(name);
    else this.notOurs.add(name); // an entry or in-process function of the config: it wins
  }

  /** Reloads one function, then records and acknowledges what it serves. */
  private async settle(name: string): Promise<void> {
    try {
      await this.slots!.reload(name);
      await this.report(name);
    } catch (e) {
      // Called unawaited from the watch: nothing may escape as an unhandled rejection.
      this.opts.log.error({ event: 'fleetSettleFailed', function: name, err: e }, `${name}: acting on its rollout failed`);
    }
  }

  /** What reload.ts asks: the versions the rollout names, ready on disk. */
  async resolve(name: string): Promise<VersionSpec | undefined> {
    const serving = this.slots!.serving(name);
    // Known to be unreachable and nothing serving (a start while it is down): the disk first,
    // rather than wait for a call that will time out; the heartbeat notices its return.
    if (this.unreachable && serving.versions.length === 0) {
      const cached = await this.fromDisk(name, this.unreachable);
      if (cached) return cached;
    }
    let rollout: Rollout | undefined;
    try {
      rollout = await this.call(`rollout ${name}`, () => this.cp.rollout(name));
    } catch (e) {
      this.markUnreachable(e);
      if (serving.versions.length > 0) throw e; // what serves goes on serving
      return this.fromDisk(name, e);
    }
    this.markReachable();
    if (!rollout) {
      // Reachable, and it names nothing (a Redis that came back empty): what serves goes on, as a
      // choice rather than a degradation.
      if (this.fromCache.delete(name)) {
        this.opts.log.warn({ event: 'controlPlaneNoRollout', function: name, serving: serving.versions }, `the control plane has no rollout for ${name}; ${serving.versions.join(' + ')} goes on serving`);
      }
      return undefined;
    }
    this.rollouts.set(name, rollout);
    const wanted = rolloutVersions(rollout);
    const spec = (version: string): VersionSpec => ({ version, bundlePath: '' });
    // Nothing to load: the reload pipeline will find every version already serving.
    if (sameList(wanted, serving.versions) && (rollout.canary?.percent ?? undefined) === serving.canaryPercent && !this.fromCache.has(name)) {
      this.resolveErrors.delete(name);
      return { ...spec(rollout.stable), canary: rollout.canary && wanted.length > 1 ? { spec: spec(rollout.canary.version), percent: rollout.canary.percent } : undefined };
    }
    const recent = wanted.map((v) => this.failedFetches.get(`${name}\0${v}`)).find((f) => f !== undefined && this.now().getTime() - f.atMs < FETCH_RETRY_MS);
    if (recent && serving.versions.length > 0) {
      // What serves is asked for again (nothing to do); the ack keeps the reason.
      this.resolveErrors.set(name, recent.error);
      const [stable, canary] = serving.versions;
      return { ...spec(stable), canary: canary !== undefined ? { spec: spec(canary), percent: serving.canaryPercent ?? 0 } : undefined };
    }
    try {
      const secrets = await this.call(`secrets of ${name}`, () => this.cp.secrets(name));
      const stable = await this.prepare(name, rollout.stable, secrets);
      const canary = rollout.canary && wanted.length > 1 ? { spec: await this.prepare(name, rollout.canary.version, secrets), percent: rollout.canary.percent } : undefined;
      this.secretsFor.set(name, secrets);
      this.resolveErrors.delete(name);
      this.fromCache.delete(name);
      return { ...stable, canary };
    } catch (e) {
      this.resolveErrors.set(name, (e as Error).message);
      // Nothing serving (a start while the bucket is down): what this gateway served before.
      if (serving.versions.length === 0) {
        const cached = await this.fromDisk(name, e);
        if (cached) return cached;
      }
      throw e;
    }
  }

  /** One version ready to load: its record, its bundle in the disk cache, its settings and the secrets. */
  private async prepare(name: string, id: string, secrets: Record<string, string>): Promise<VersionSpec> {
    const key = `${name}\0${id}`;
    let record = this.records.get(key);
    if (!record) {
      record = await this.call(`version ${name}@${id}`, () => this.cp.version(name, id));
      if (!record) throw new Error(`the rollout of ${name} names version ${id}, which has no record`);
      this.records.set(key, record);
    }
    let bundlePath: string;
    if (await this.opts.cache.hasBundle(name, record.sha256)) bundlePath = this.opts.cache.bundlePath(name, record.sha256);
    else {
      try {
        // A bundle is megabytes at most: six call timeouts is a slow bucket, not a dead one.
        const { code, map } = await within(Promise.resolve().then(() => this.cp.fetchBundle(record)), 6 * this.callMs, `bundle of ${name}@${id}`);
        // fetchBundle verifies; a second look costs one hash and guards a control plane that did not.
        const actual = createHash('sha256').update(code).digest('hex');
        if (actual !== record.sha256) throw new Error(`${name}@${id}: bundle sha256 mismatch (expected ${record.sha256}, got ${actual}); rejected`);
        bundlePath = await this.opts.cache.putBundle(name, record.sha256, code, map);
      } catch (e) {
        this.failedFetches.set(key, { atMs: this.now().getTime(), error: (e as Error).message });
        throw e;
      }
      this.failedFetches.delete(key);
    }
    return { version: id, bundlePath, settings: record.settings, secrets };
  }

  /** The versions this gateway last served of `name`, from the disk cache; undefined when none (or damaged). */
  private async fromDisk(name: string, cause: unknown): Promise<VersionSpec | undefined> {
    let cached;
    try {
      cached = await this.opts.cache.served(name);
    } catch (e) {
      this.opts.log.error({ event: 'controlCacheUnreadable', function: name, err: e }, `cannot read the cached versions of ${name}`);
      return undefined;
    }
    if (!cached) return undefined;
    const { state, secrets } = cached;
    const stablePath = await this.opts.cache.verifiedBundle(name, state.stable.sha256);
    if (!stablePath) {
      this.opts.log.error({ event: 'controlCacheDamaged', function: name, version: state.stable.id }, `the cached bundle of ${name}@${state.stable.id} is missing or damaged`);
      return undefined;
    }
    const canaryPath = state.canary && (await this.opts.cache.verifiedBundle(name, state.canary.record.sha256));
    for (const r of [state.stable, ...(state.canary ? [state.canary.record] : [])]) this.records.set(`${name}\0${r.id}`, r);
    this.secretsFor.set(name, secrets);
    this.fromCache.add(name);
    this.opts.log.debug({ event: 'controlCacheUsed', function: name, err: cause }, `${name}: loading the cached ${state.stable.id}`);
    return {
      version: state.stable.id,
      bundlePath: stablePath,
      settings: state.stable.settings,
      secrets,
      canary: state.canary && canaryPath ? { spec: { version: state.canary.record.id, bundlePath: canaryPath, settings: state.canary.record.settings, secrets }, percent: state.canary.percent } : undefined,
    };
  }

  /** After a reload: the disk cache learns what serves, and the control plane hears the ack. */
  private async report(name: string): Promise<void> {
    const slots = this.slots!;
    const serving = slots.serving(name);
    const rollout = this.rollouts.get(name);
    const servingKey = `${serving.versions.join(',')}@${serving.canaryPercent ?? ''}`;
    if (serving.versions.length > 0 && !this.fromCache.has(name) && this.written.get(name) !== servingKey) {
      const stable = this.records.get(`${name}\0${serving.versions[0]}`);
      const canary = serving.versions[1] !== undefined ? this.records.get(`${name}\0${serving.versions[1]}`) : undefined;
      if (stable) {
        const state: ServedState = {
          revision: rollout?.revision ?? 0,
          stable,
          ...(canary ? { canary: { record: canary, percent: serving.canaryPercent ?? 0 } } : {}),
          at: this.now().toISOString(),
        };
        this.written.set(name, servingKey);
        try {
          await this.opts.cache.putServed(name, state, this.secretsFor.get(name) ?? {});
        } catch (e) {
          this.written.delete(name);
          this.opts.log.error({ event: 'controlCacheWriteFailed', function: name, err: e }, `cannot cache what ${name} serves in ${this.opts.cache.dir}`);
        }
      }
    }
    if (!rollout) return;
    const wanted = rolloutVersions(rollout);
    const ok = sameList(wanted, serving.versions);
    const error = ok ? undefined : (this.resolveErrors.get(name) ?? slots.lastError(name) ?? `not loaded: serving ${serving.versions.join(', ') || 'nothing'}`);
    const ackKey = `${rollout.revision}|${servingKey}|${ok}|${error ?? ''}`;
    if (this.acked.get(name) === ackKey) return;
    this.acked.set(name, ackKey);
    try {
      await this.call(`ack ${name}`, () => this.cp.ack({ gateway: this.opts.gatewayId, function: name, revision: rollout.revision, serving: [...serving.versions], ok, ...(error ? { error } : {}), at: this.now().toISOString() }));
    } catch (e) {
      this.acked.delete(name); // told again on the next poll
      this.markUnreachable(e);
    }
  }

  private async heartbeat(): Promise<void> {
    if (this.closed) return;
    try {
      const degraded = this.degraded();
      await this.call('heartbeat', () => this.cp.heartbeat({ gateway: this.opts.gatewayId, at: this.now().toISOString(), ...(degraded ? { degraded } : {}) }, 3 * this.opts.heartbeatMs));
      this.markReachable();
    } catch (e) {
      this.markUnreachable(e);
    }
  }

  private markUnreachable(e: unknown): void {
    if (this.unreachable || this.closed) return; // a call cut short by shutdown is no outage
    this.unreachable = (e as Error)?.message ?? String(e);
    if (this.slots && this.pollTimer) this.opts.log.warn({ event: 'controlPlaneUnreachable', err: e }, `control plane unreachable (${this.unreachable}); the versions serving go on serving`);
  }

  /** The control plane answered: after an outage, every rollout is read again at once. */
  private markReachable(): void {
    if (!this.unreachable) return;
    this.unreachable = undefined;
    if (this.closed) return;
    this.opts.log.info({ event: 'controlPlaneReachable' }, 'control plane reachable again; re-reading every rollout');
    void this.poll();
  }

  private servingAny(): boolean {
    return [...this.followed].some((n) => this.slots!.serving(n).versions.length > 0);
  }

  private resolveErrorSummary(): string {
    return [...this.resolveErrors].map(([n, err]) => `${n}: ${err}`).join('; ');
  }
}
