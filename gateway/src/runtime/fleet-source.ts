/**
 * The gateway side of the control plane (issue 12): follows every function's Rollout, loads the
 * versions it names through the reload pipeline, acknowledges, and keeps what it serves on local
 * disk for a start without the control plane.
 *
 *  - Which functions: every one the control plane knows, and every one the routes (or the config
 *    without an entry) name, so a route to a function never deployed shows on /readyz.
 *  - Triggers: ControlPlane.watch (pub/sub, or a folder poll) reloads the function it names at
 *    once; every `pollMs` all of them are re-read, the fallback for a missed message, and the
 *    first answer after an outage re-reads them at once (fleet-link.ts); a heartbeat every
 *    `heartbeatMs` says this gateway is live (and degraded, if it is); close() takes it off
 *    the live list at once, after its last heartbeat.
 *  - Each reload asks FleetFunctionSource.current, answered by fleet-resolve.ts (the rollout's
 *    versions fetched, verified and cached, or the disk cache in an outage); after it,
 *    fleet-report.ts records what serves and acknowledges.
 *  - Outage: a start while Redis or the bucket is down serves the versions cached on disk, with
 *    one log line saying so; `degraded()` names the state for /readyz and the heartbeat.
 */
import type { Logger } from 'pino';
import type { ControlPlane } from '../control/control-plane.js';
import type { FleetCache } from './fleet-cache.js';
import { ControlLink } from './fleet-link.js';
import { FleetReporter } from './fleet-report.js';
import { FleetResolver, type Serving } from './fleet-resolve.js';
import type { VersionSource, VersionSourceKind, VersionSpec } from './version-sources.js';

export { FETCH_RETRY_MS, rolloutVersions } from './fleet-resolve.js';

/** What the fleet source needs of the function runtime: its slots, by name. */
export interface FleetSlots {
  /** Adds a slot fed by `source` unless the function already has one (an entry, in process): false then. */
  ensure(name: string, source: VersionSource): boolean;
  /** Reloads the function from its source; resolves once that attempt is over. */
  reload(name: string): Promise<void>;
  /** The versions serving new requests (stable first, then the canary) and the canary's percent. */
  serving(name: string): Serving;
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
  /** Longest wait for one control plane call before it counts as unreachable (default 5000). */
  readonly callTimeoutMs?: number;
  /**
   * The same for the first call at start (default 2000): a start while the control plane is down
   * should serve the cache soon, and a control plane that was only slow is caught up with by the
   * next heartbeat.
   */
  readonly startTimeoutMs?: number;
  /**
   * The longest close() waits to take this gateway off the live list (default 1000): a control
   * plane that is down must not hold a shutdown, and the heartbeat's TTL expires it anyway.
   */
  readonly leaveTimeoutMs?: number;
  readonly now?: () => Date;
  /**
   * Starts the poll's and the heartbeat's repeating timer; returns what stops it. A test passes a
   * fake clock's, to show the poll finding a change whose announcement was lost (default: an
   * unref'd setInterval, so the timers never keep a process alive).
   */
  readonly every?: (periodMs: number, tick: () => void) => () => void;
}

function everyUnref(periodMs: number, tick: () => void): () => void {
  const timer = setInterval(tick, periodMs);
  timer.unref();
  return () => clearInterval(timer);
}

/** The words /readyz and the heartbeat carry while the gateway serves what it cached. */
export const DEGRADED_CACHED = 'control plane unreachable, serving cached versions';
export const DEGRADED_EMPTY = 'control plane unreachable';

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
  private readonly link: ControlLink;
  private readonly resolver: FleetResolver;
  private readonly reporter: FleetReporter;
  private readonly followed = new Set<string>();
  private readonly notOurs = new Set<string>();
  private polling: Promise<void> | undefined;
  private stopPoll: (() => void) | undefined;
  private stopHeartbeat: (() => void) | undefined;
  private unwatch: (() => void) | undefined;
  private beating: Promise<void> | undefined;
  private closing: Promise<void> | undefined;

  constructor(private readonly opts: FleetOptions) {
    this.link = new ControlLink(opts.controlPlane, opts.callTimeoutMs ?? 5000, opts.now ?? (() => new Date()), opts.log, () => void this.poll());
    this.resolver = new FleetResolver(this.link, opts.cache, opts.log);
    this.reporter = new FleetReporter(this.link, this.resolver, opts.cache, opts.gatewayId, opts.log);
  }

  /** The kind status() reports: a folder control plane is the deploy folder it always was. */
  get kind(): VersionSourceKind {
    return this.opts.controlPlane.kind === 'folder' ? 'deploy' : 'fleet';
  }

  /**
   * Follows every function and loads its current versions (from the disk cache when the control
   * plane is unreachable), then starts polling and the heartbeat. Resolves when the first loads
   * are over: the gateway reports ready after this.
   */
  async start(slots: FleetSlots): Promise<void> {
    this.slots = slots;
    const { cp } = this.link;
    let names: string[];
    try {
      names = await this.link.call('functions', () => cp.functions(), this.opts.startTimeoutMs ?? Math.min(this.link.callMs, 2000));
    } catch (e) {
      this.link.markUnreachable(e);
      names = await this.opts.cache.functions();
    }
    for (const name of [...names, ...this.opts.names]) this.follow(name);
    // Watching before the first loads: a rollout changed meanwhile is not left for the poll.
    try {
      this.unwatch = cp.watch((name) => {
        if (this.link.closed) return;
        this.follow(name);
        if (this.followed.has(name)) void this.settle(name);
      });
    } catch (e) {
      // Without announcements the poll still finds every change, controlPollMs later.
      this.opts.log.error({ event: 'controlWatchFailed', err: e }, `cannot watch the control plane for changes; rollouts are read every ${this.opts.pollMs} ms`);
    }
    await Promise.all([...this.followed].map((n) => this.settle(n)));
    this.logStart();
    this.link.started = true;
    const every = this.opts.every ?? everyUnref;
    this.stopPoll = every(this.opts.pollMs, () => void this.poll());
    this.beat();
    this.stopHeartbeat = every(this.opts.heartbeatMs, () => this.beat());
  }

  /** Why the gateway is degraded, for /readyz and the heartbeat; undefined when it is not. */
  degraded(): string | undefined {
    if (this.link.unreachable) return this.servingAny() ? DEGRADED_CACHED : DEGRADED_EMPTY;
    const cached = [...this.resolver.fromCache].sort();
    if (cached.length === 0) return undefined;
    // The first reason names the bucket and the key it could not deliver (bucket-bundles.ts).
    const why = cached.map((n) => this.resolver.errors.get(n)).find((e) => e !== undefined);
    return `serving cached versions of ${cached.join(', ')}: the control plane cannot deliver their bundles${why ? ` (${why})` : ''}`;
  }

  /** Every followed function's name. */
  names(): string[] {
    return [...this.followed].sort();
  }

  /** Discovers new functions and re-reads every rollout; one poll at a time, and it never rejects. */
  poll(): Promise<void> {
    if (this.link.closed || !this.slots) return Promise.resolve();
    this.polling ??= (async () => {
      try {
        let names: string[] = [];
        try {
          names = await this.link.call('functions', () => this.link.cp.functions());
          this.link.markReachable();
        } catch (e) {
          this.link.markUnreachable(e);
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

  /**
   * Stops watching, polling and the heartbeat; resolves once a poll or heartbeat under way is
   * over, then leaves the live list so a deploy right after a clean shutdown does not wait for
   * this gateway. Does not close the control plane.
   */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    this.link.closed = true;
    this.unwatch?.();
    this.stopPoll?.();
    this.stopHeartbeat?.();
    await this.polling;
    // After the last heartbeat: one still in flight would put the gateway back on the list.
    await this.beating;
    if (this.slots) await this.leave();
  }

  /** What reload.ts asks of one function (FleetFunctionSource.current). */
  resolve(name: string): Promise<VersionSpec | undefined> {
    return this.resolver.resolve(name, this.slots!.serving(name));
  }

  private follow(name: string): void {
    if (this.followed.has(name) || this.notOurs.has(name) || !this.slots) return;
    if (this.slots.ensure(name, new FleetFunctionSource(this.kind, this, name))) this.followed.add(name);
    else this.notOurs.add(name); // an entry or in-process function of the config: it wins
  }

  /** Reloads one function, then records and acknowledges what it serves. */
  private async settle(name: string): Promise<void> {
    const slots = this.slots!;
    try {
      await slots.reload(name);
      await this.reporter.report(name, slots.serving(name), slots.lastError(name));
    } catch (e) {
      // Called unawaited from the watch: nothing may escape as an unhandled rejection.
      this.opts.log.error({ event: 'fleetSettleFailed', function: name, err: e }, `${name}: acting on its rollout failed`);
    }
  }

  /** One heartbeat at a time: a slow control plane does not pile them up. */
  private beat(): void {
    this.beating ??= this.heartbeat().finally(() => (this.beating = undefined));
  }

  private async heartbeat(): Promise<void> {
    if (this.link.closed) return;
    const link = this.link;
    try {
      const degraded = this.degraded();
      await link.call('heartbeat', () => link.cp.heartbeat({ gateway: this.opts.gatewayId, at: link.now().toISOString(), ...(degraded ? { degraded } : {}) }, 3 * this.opts.heartbeatMs));
      link.markReachable();
    } catch (e) {
      link.markUnreachable(e);
    }
  }

  /** Bounded, and never fails a shutdown: a gateway that could not leave expires with its heartbeat's TTL. */
  private async leave(): Promise<void> {
    const link = this.link;
    const gateway = this.opts.gatewayId;
    try {
      await link.call('leave', () => link.cp.leave(gateway), Math.min(link.callMs, this.opts.leaveTimeoutMs ?? 1000));
    } catch (e) {
      this.opts.log.debug({ event: 'controlLeaveFailed', err: e }, `could not leave the live list (${(e as Error)?.message ?? String(e)}); it expires with the heartbeat's TTL`);
    }
  }

  /** The one line a start without the control plane logs (later outages log their own, fleet-link.ts). */
  private logStart(): void {
    const cached = this.resolver.fromCache;
    if (!this.link.unreachable && cached.size === 0) return;
    const reason = this.link.unreachable ?? [...this.resolver.errors].map(([n, err]) => `${n}: ${err}`).join('; ');
    const dir = this.opts.cache.dir;
    const served = [...cached].map((n) => `${n}@${this.slots!.serving(n).versions.join('+')}`).join(', ');
    // Redis answering but the bucket not (the reason names the bucket): not "unreachable".
    const state = this.link.unreachable ? 'control plane unreachable' : 'the control plane cannot deliver bundles';
    this.opts.log.warn(
      { event: 'controlPlaneDegraded', reason, functions: [...cached], cacheDir: dir },
      served
        ? `${state} (${reason}); serving the versions cached in ${dir}: ${served}`
        : `${state} (${reason}); nothing cached in ${dir}, so no deployed function serves until it answers`,
    );
  }

  private servingAny(): boolean {
    return [...this.followed].some((n) => this.slots!.serving(n).versions.length > 0);
  }
}
