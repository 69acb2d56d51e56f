/**
 * An in-memory ControlPlane for the CLI's unit tests: the contract's behaviour (immutable
 * versions newest first, rollouts that name published versions and bump the revision, acks,
 * presence, secrets) with no files, Redis or bucket. A test can script gateways: `onRollout`
 * runs after every setRollout, so a fake gateway can ack (or reject) the new revision.
 */
import { createHash } from 'node:crypto';
import {
  ControlPlaneError,
  MAX_VERSIONS,
  type ControlPlane,
  type GatewayAck,
  type GatewayPresence,
  type PublishInput,
  type Rollout,
  type VersionRecord,
} from '../../../gateway/src/control/control-plane.js';

export class FakeControlPlane implements ControlPlane {
  readonly kind = 'folder' as const;
  readonly bundles = new Map<string, Buffer>();
  readonly records = new Map<string, VersionRecord[]>();
  readonly rollouts = new Map<string, Rollout>();
  readonly ackLog = new Map<string, Map<string, GatewayAck>>();
  readonly live: GatewayPresence[] = [];
  readonly secretStore = new Map<string, Map<string, string>>();
  readonly watchers = new Set<(name: string) => void>();
  /** Called after every setRollout: scripted gateways ack here. */
  onRollout?: (name: string, rollout: Rollout) => void;
  /** A clock the test controls, for version ids and times. */
  nowMs = Date.parse('2026-12-07T02:00:00.000Z');
  setRollouts = 0;
  /** Whether rollouts carry previousStable (the contract makes it optional). */
  recordsPreviousStable = false;
  published = 0;

  private now(): Date {
    this.nowMs += 1000;
    return new Date(this.nowMs);
  }

  async publish(name: string, input: PublishInput, onProgress?: (sent: number, total: number) => void): Promise<VersionRecord> {
    const sha = createHash('sha256').update(input.code).digest('hex');
    if (sha !== input.sha256) throw new ControlPlaneError(`sha256 mismatch for ${name}`);
    onProgress?.(0, input.code.byteLength);
    this.bundles.set(sha, Buffer.from(input.code));
    onProgress?.(input.code.byteLength, input.code.byteLength);
    const at = this.now();
    const id = `${at.toISOString().replace(/[-:.]/g, '')}-${sha.slice(0, 8)}`;
    const record: VersionRecord = {
      function: name,
      id,
      sha256: sha,
      bytes: input.code.byteLength,
      ...(input.message !== undefined ? { message: input.message } : {}),
      createdAt: at.toISOString(),
      author: input.author,
      ...(input.entry !== undefined ? { entry: input.entry } : {}),
      settings: input.settings,
    };
    const list = [record, ...(this.records.get(name) ?? [])].slice(0, MAX_VERSIONS);
    this.records.set(name, list);
    this.published++;
    return record;
  }

  async versions(name: string): Promise<VersionRecord[]> {
    return [...(this.records.get(name) ?? [])];
  }

  async version(name: string, id: string): Promise<VersionRecord | undefined> {
    return this.records.get(name)?.find((v) => v.id === id);
  }

  async functions(): Promise<string[]> {
    return [...this.records.keys()].sort();
  }

  async rollout(name: string): Promise<Rollout | undefined> {
    return this.rollouts.get(name);
  }

  async setRollout(name: string, next: { stable: string; canary?: { version: string; percent: number } }): Promise<Rollout> {
    for (const id of [next.stable, ...(next.canary ? [next.canary.version] : [])]) {
      if (!(await this.version(name, id))) throw new ControlPlaneError(`${name} has no version ${id}`);
    }
    const prev = this.rollouts.get(name);
    const previousStable = prev && prev.stable !== next.stable ? prev.stable : prev?.previousStable;
    const r: Rollout = {
      stable: next.stable,
      ...(next.canary ? { canary: next.canary } : {}),
      revision: (prev?.revision ?? 0) + 1,
      updatedAt: this.now().toISOString(),
      ...(this.recordsPreviousStable && previousStable !== undefined ? { previousStable } : {}),
    };
    this.rollouts.set(name, r);
    this.setRollouts++;
    for (const w of this.watchers) w(name);
    this.onRollout?.(name, r);
    return r;
  }

  async fetchBundle(record: VersionRecord): Promise<{ code: Buffer }> {
    const code = this.bundles.get(record.sha256);
    if (!code) throw new ControlPlaneError(`no bundle ${record.sha256}`);
    return { code };
  }

  watch(listener: (name: string) => void): () => void {
    this.watchers.add(listener);
    return () => this.watchers.delete(listener);
  }

  async ack(ack: GatewayAck): Promise<void> {
    let m = this.ackLog.get(ack.function);
    if (!m) this.ackLog.set(ack.function, (m = new Map()));
    m.set(ack.gateway, ack);
  }

  async acks(name: string): Promise<GatewayAck[]> {
    return [...(this.ackLog.get(name)?.values() ?? [])];
  }

  async heartbeat(presence: GatewayPresence): Promise<void> {
    const i = this.live.findIndex((p) => p.gateway === presence.gateway);
    if (i >= 0) this.live[i] = presence;
    else this.live.push(presence);
  }

  async liveGateways(): Promise<GatewayPresence[]> {
    return [...this.live];
  }

  async putSecret(name: string, key: string, value: string): Promise<void> {
    let m = this.secretStore.get(name);
    if (!m) this.secretStore.set(name, (m = new Map()));
    m.set(key, value);
  }

  async deleteSecret(name: string, key: string): Promise<boolean> {
    return this.secretStore.get(name)?.delete(key) ?? false;
  }

  async secretNames(name: string): Promise<string[]> {
    return [...(this.secretStore.get(name)?.keys() ?? [])].sort();
  }

  async secrets(name: string): Promise<Record<string, string>> {
    return Object.fromEntries(this.secretStore.get(name) ?? []);
  }

  async close(): Promise<void> {}

  /** A scripted gateway: live, and acking every rollout (or rejecting the versions `reject` names). */
  addGateway(gateway: string, reject: (r: Rollout) => string | undefined = () => undefined): void {
    this.live.push({ gateway, at: new Date(this.nowMs).toISOString() });
    const prev = this.onRollout;
    this.onRollout = (name, r) => {
      prev?.(name, r);
      const error = reject(r);
      void this.ack({
        gateway,
        function: name,
        revision: r.revision,
        serving: error ? [] : [r.stable, ...(r.canary ? [r.canary.version] : [])],
        ok: error === undefined,
        ...(error ? { error } : {}),
        at: new Date(this.nowMs).toISOString(),
      });
    };
  }
}
