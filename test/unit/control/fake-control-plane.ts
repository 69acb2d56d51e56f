/**
 * An in-memory ControlPlane (gateway/src/control/control-plane.ts) for the gateway side's unit
 * tests: versions, rollouts with revisions, acks, presence and plain-text secrets in Maps, and
 * two knobs a real one only shows under faults: `down` (every call rejects, as with Redis or the
 * bucket unreachable) and `tamper(sha256)` (the stored bytes no longer match their hash).
 */
import { createHash } from 'node:crypto';
import {
  ControlPlaneError,
  type ControlPlane,
  type FunctionSettings,
  type GatewayAck,
  type GatewayPresence,
  type PublishInput,
  type Rollout,
  type VersionRecord,
} from '../../../gateway/src/control/control-plane.js';

export class FakeControlPlane implements ControlPlane {
  readonly kind = 'redis' as const;
  /** Every call rejects while true. */
  down = false;
  private readonly records = new Map<string, VersionRecord[]>();
  private readonly bundles = new Map<string, Buffer>();
  private readonly rollouts = new Map<string, Rollout>();
  private readonly ackMap = new Map<string, GatewayAck>();
  private readonly presence = new Map<string, GatewayPresence>();
  private readonly secretMap = new Map<string, Map<string, string>>();
  private readonly listeners = new Set<(name: string) => void>();
  private seq = 0;
  /** Every ack, in order (acks() keeps the latest per gateway only). */
  readonly ackLog: GatewayAck[] = [];
  readonly heartbeats: GatewayPresence[] = [];
  fetches = 0;

  private check(): void {
    if (this.down) throw new ControlPlaneError('connect ECONNREFUSED 127.0.0.1:6379');
  }

  /** Publishes code (a string) with settings and returns the record. */
  async add(name: string, code: string, settings: FunctionSettings = {}): Promise<VersionRecord> {
    const bytes = Buffer.from(code);
    return this.publish(name, { code: bytes, sha256: createHash('sha256').update(bytes).digest('hex'), author: 'test', settings });
  }

  async publish(name: string, input: PublishInput): Promise<VersionRecord> {
    this.check();
    this.bundles.set(input.sha256, Buffer.from(input.code));
    const now = new Date(Date.UTC(2026, 0, 1) + ++this.seq);
    const record: VersionRecord = {
      function: name,
      id: `${now.toISOString().replace(/[-:.]/g, '')}-${input.sha256.slice(0, 8)}`,
      sha256: input.sha256,
      bytes: input.code.byteLength,
      createdAt: now.toISOString(),
      author: input.author,
      settings: input.settings,
      ...(input.message ? { message: input.message } : {}),
    };
    this.records.set(name, [record, ...(this.records.get(name) ?? [])]);
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
    const rollout: Rollout = { ...next, revision: (this.rollouts.get(name)?.revision ?? 0) + 1, updatedAt: new Date().toISOString() };
    this.rollouts.set(name, rollout);
    this.announce(name);
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
    const actual = createHash('sha256').update(code).digest('hex');
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
    this.presence.set(presence.gateway, presence);
  }

  async liveGateways(): Promise<GatewayPresence[]> {
    this.check();
    return [...this.presence.values()];
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
}
