/**
 * After each reload of a deployed function (issue 12): the disk cache learns what serves now
 * (fleet-cache.ts: what a start without the control plane will serve), and the control plane
 * hears the acknowledgement: the rollout revision acted on, the versions serving, and ok or the
 * reason (a hash mismatch, a load error: a rejected version never serves, the reload pipeline
 * keeps the previous one). One ack per change; one that cannot be sent is sent again after the
 * next reload or poll.
 */
import type { Logger } from 'pino';
import type { FleetCache, ServedState } from './fleet-cache.js';
import type { ControlLink } from './fleet-link.js';
import { rolloutVersions, sameList, type FleetResolver, type Serving } from './fleet-resolve.js';

export class FleetReporter {
  private readonly acked = new Map<string, string>();
  private readonly written = new Map<string, string>();

  constructor(
    private readonly link: ControlLink,
    private readonly resolver: FleetResolver,
    private readonly cache: FleetCache,
    private readonly gatewayId: string,
    private readonly log: Logger,
  ) {}

  /** `serving` is what serves now; `lastError` why the function's last load failed, if it did. */
  async report(name: string, serving: Serving, lastError: string | undefined): Promise<void> {
    const r = this.resolver;
    const rollout = r.rollouts.get(name);
    const servingKey = `${serving.versions.join(',')}@${serving.canaryPercent ?? ''}`;
    // The load keys too: a rotated secret is written to the cache, though no version changed.
    const writtenKey = `${serving.keys.join(',')}@${serving.canaryPercent ?? ''}`;
    if (serving.versions.length > 0 && !r.fromCache.has(name) && this.written.get(name) !== writtenKey) await this.writeServed(name, serving, writtenKey, rollout?.revision ?? 0);
    if (!rollout) return;
    const ok = sameList(rolloutVersions(rollout), serving.versions);
    const error = ok ? undefined : (r.errors.get(name) ?? lastError ?? `not loaded: serving ${serving.versions.join(', ') || 'nothing'}`);
    const ackKey = `${rollout.revision}|${servingKey}|${ok}|${error ?? ''}`;
    if (this.acked.get(name) === ackKey) return;
    this.acked.set(name, ackKey);
    const link = this.link;
    const ack = { gateway: this.gatewayId, function: name, revision: rollout.revision, serving: [...serving.versions], ok, ...(error ? { error } : {}), at: link.now().toISOString() };
    try {
      await link.call(`ack ${name}`, () => link.cp.ack(ack));
    } catch (e) {
      this.acked.delete(name); // told again after the next reload or poll
      link.markUnreachable(e);
    }
  }

  private async writeServed(name: string, serving: Serving, writtenKey: string, revision: number): Promise<void> {
    const stable = this.resolver.record(name, serving.versions[0]);
    const canary = serving.versions[1] !== undefined ? this.resolver.record(name, serving.versions[1]) : undefined;
    if (!stable) return;
    const state: ServedState = {
      revision,
      stable,
      ...(canary ? { canary: { record: canary, percent: serving.canaryPercent ?? 0 } } : {}),
      at: this.link.now().toISOString(),
    };
    this.written.set(name, writtenKey);
    try {
      await this.cache.putServed(name, state, this.resolver.secretsFor.get(name) ?? {});
    } catch (e) {
      this.written.delete(name);
      this.log.error({ event: 'controlCacheWriteFailed', function: name, err: e }, `cannot cache what ${name} serves in ${this.cache.dir}`);
    }
  }
}
