/**
 * An in-memory ControlPlane (gateway/src/control/control-plane.ts) for unit tests of both sides:
 * the contract's behaviour (immutable versions newest first, at most MAX_VERSIONS; rollouts that
 * name published versions and bump the revision; acks, presence, plain-text secrets) in Maps,
 * with no files, Redis or bucket.
 *
 * For the gateway side, two knobs a real one only shows under faults: `down` (every call
 * rejects, as with Redis or the bucket unreachable) and `tamper(sha256)` (the stored bytes no
 * longer match their hash). For the CLI, scripted gateways: `addGateway` (or `onRollout`, run
 * after every setRollout) acks or rejects each new revision.
 */
import { createHash } from 'node:crypto';
import {
  ControlPlaneError,
  MAX_VERSIONS,
  type ControlPlane,
  type FunctionSettings,
  type GatewayAck,
  type GatewayPresence,
  type PublishInput,
  type Rollout,
  type VersionRecord,
} from '../../../gateway/src/control/control-plane.js';

const sha256Hex = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

export class FakeControlPlane implements ControlPlane {
  /** Which real plane it stands for; only the CLI's wording depends on it. */
  readonly kind: 'folder' | 'redis';
  /** Every call rejects while true. */
  down = false;
  private readonly records = new Map<string, VersionRecord[]>();
  private readonly bundles = new Map<string, Buffer>();
  private readonly rollouts = new Map<string, Rollout>();
  private readonly ackMap = new Map<string, GatewayAck>();
  private readonly secretMap = new Map<string, Map<string, string>>();
  private readonly listeners = new Set<(name: string) => void>();
  /** Every ack, in order (acks() keeps the latest per gateway only). */
  readonly ackLog: GatewayAck[] = [];
  /** The live gateways, one entry each (a heartbeat replaces its gateway's entry). */
  readonly live: GatewayPresence[] = [];
  /** Every heartbeat, in order. */
  readonly heartbeats: GatewayPresence[] = [];
  /** Every leave (a gateway's clean shutdown), in order. */
  readonly leaves: string[] = [];
  /** Called after every setRollout: scripted gateways ack here. */
  onRollout?: (name: string, rollout: Rollout) => void;
  /** A clock the test controls, for version ids and times: each publish and setRollout is a second later. */
  nowMs = Date.parse('2026-12-07T02:00:00.000Z');
  /** Whether rollouts carry previousStable (the contract makes it optional). */
  recordsPreviousStable = false;
  published = 0;
  setRollouts = 0;
  fetches = 0;

  constructor(opts: { kind?: 'folder' | 'redis' } = {}) {
    this.kind = opts.kind ?? 'redis';
  }

  private check(): void {
    if (this.down) throw new ControlPlaneError('connect ECONNREFUSED 127.0.0.1:6379');
  }

  private now(): Date {
    this.nowMs += 1000;
    return new Date(this.nowMs);
  }

  /** Publishes code (a string) with settings and returns the record. */
  async add(name: string, code: string, settings: FunctionSettings = {}): Promise<VersionRecord> {
    const bytes = Buffer.from(code);
    return this.publish(name, { code: bytes, sha256: sha256Hex(bytes), author: 'test', settings });
  }

  async publish(name: string, input: PublishInput, onProgress?: (sent: number, total: number) => void): Promise<VersionRecord> {
    this.check();
    const sha = sha256Hex(input.code);
    if (sha !== input.sha256) throw new ControlPlaneError(`sha256 mismatch for ${name}`);
    onProgress?.(0, input.code.byteLength);
    this.bundles.set(sha, Buffer.from(input.code));
    onProgress?.(input.code.byteLength, input.code.byteLength);
    const at = this.now();
    const record: VersionRecord = {
      function: name,
      id: `${at.toISOString().replace(/[-:.]/g, '')}-${sha.slice(0, 8)}`,
      sha256: sha,
      bytes: input.code.byteLength,
      ...(input.message !== undefined ? { message: input.message } : {}),
      createdAt: at.toISOString(),
      author: input.author,
      ...(input.entry !== undefined ? { entry: input.entry } : {}),
      settings: input.settings,
    };
    this.records.set(name, [record, ...(this.records.get(name) ?? [])].slice(0, MAX_VERSIONS));
    this.published++;
    return record;
  }

  /** The bytes stored under `sha256` change: a fetch must fail its hash check. */
  tamper(sha256: string): void {
    this.bundles.set(sha256, Buffer.from('export const handle = () => "tampered";'));
  }

  async versions(name: string): Promise<VersionRecord[]> {
    this.check();
    return [...(this.records.get(name) ?? [])];
  }

  async version(name: string, id: string): Promise<VersionRecord | undefined> {
    this.check();
    return this.records.get(name)?.find((r) => r.id === id);
  }

  async functions(): Promise<string[]> {
    this.check();
    return [...this.records.keys()].sort();
  }

  async rollout(name: string): Promise<Rollout | undefined> {
    this.check();
    return this.rollouts.get(name);
  }

  async setRollout(name: string, next: { stable: string; canary?: { version: string; percent: number } }): Promise<Rollout> {
    this.check();
    for (const id of [next.stable, ...(next.canary ? [next.canary.version] : [])]) {
      if (!(await this.version(name, id))) throw new ControlPlaneError(`${name} has no version ${id}`);
    }
    const prev = this.rollouts.get(name);
    const previousStable = prev && prev.stable !== next.stable ? prev.stable : prev?.previousStable;
    const rollout: Rollout = {
      stable: next.stable,
      ...(next.canary ? { canary: next.canary } : {}),
      revision: (prev?.revision ?? 0) + 1,
      updatedAt: this.now().toISOString(),
      ...(this.recordsPreviousStable && previousStable !== undefined ? { previousStable } : {}),
    };
    this.rollouts.set(name, rollout);
    this.setRollouts++;
    this.announce(name);
    this.onRollout?.(name, rollout);
    return rollout;
  }

  /** Tells the watchers, as pub/sub would (not while down: the message is lost). */
  announce(name: string): void {
    if (this.down) return;
    for (const l of [...this.listeners]) l(name);
  }

  async fetchBundle(record: VersionRecord): Promise<{ code: Buffer; map?: Buffer }> {
    this.check();
    this.fetches++;
    const code = this.bundles.get(record.sha256);
    if (!code) throw new ControlPlaneError(`no bundle ${record.sha256}`);
    const actual = sha256Hex(code);
    if (actual !== record.sha256) throw new ControlPlaneError(`bundle of ${record.function}@${record.id}: sha256 mismatch (expected ${record.sha256}, got ${actual})`);
    return { code: Buffer.from(code) };
  }

  watch(listener: (name: string) => void): () => void {
    this.listeners.add(listener);
    return () => void this.listeners.delete(listener);
  }

  async ack(ack: GatewayAck): Promise<void> {
    this.check();
    this.ackLog.push(ack);
    this.ackMap.set(`${ack.function}\0${ack.gateway}`, ack);
  }

  async acks(name: string): Promise<GatewayAck[]> {
    this.check();
    return [...this.ackMap.values()].filter((a) => a.function === name);
  }

  async heartbeat(presence: GatewayPresence): Promise<void> {
    this.check();
    this.heartbeats.push(presence);
    const i = this.live.findIndex((p) => p.gateway === presence.gateway);
    if (i >= 0) this.live[i] = presence;
    else this.live.push(presence);
  }

  async leave(gatewayId: string): Promise<void> {
    this.check();
    this.leaves.push(gatewayId);
    const i = this.live.findIndex((p) => p.gateway === gatewayId);
    if (i >= 0) this.live.splice(i, 1);
  }

  async liveGateways(): Promise<GatewayPresence[]> {
    this.check();
    return [...this.live];
  }

  async putSecret(name: string, key: string, value: string): Promise<void> {
    this.check();
    const m = this.secretMap.get(name) ?? new Map<string, string>();
    m.set(key, value);
    this.secretMap.set(name, m);
  }

  async deleteSecret(name: string, key: string): Promise<boolean> {
    this.check();
    return this.secretMap.get(name)?.delete(key) ?? false;
  }

  async secretNames(name: string): Promise<string[]> {
    this.check();
    return [...(this.secretMap.get(name)?.keys() ?? [])].sort();
  }

  async secrets(name: string): Promise<Record<string, string>> {
    this.check();
    return Object.fromEntries(this.secretMap.get(name) ?? []);
  }

  async close(): Promise<void> {
    this.listeners.clear();
  }

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
