/**
 * What the fleet source answers when reload.ts asks a function for its current version (issue
 * 12): the rollout's stable version and canary, each as a VersionSpec ready to load: its record
 * (immutable, so remembered), its bundle in the disk cache (fetchBundle checks the sha256, and it
 * is checked again here before the bytes are cached), the settings that travel with it and the
 * function's secrets.
 *
 *  - When the versions asked for are the ones serving, with the same secrets, nothing is read
 *    beyond the rollout and the secrets: the reload finds nothing to do. Each spec's load key is
 *    its version and a fingerprint of the secrets, so a rotated secret (`tftpfn secret put`)
 *    loads the same version again with it within one poll, as a deploy would (new pool ready
 *    first, the old one drains).
 *  - A bundle that could not be fetched or failed its hash is left alone for FETCH_RETRY_MS while
 *    the function serves another version (the answer is then what serves); the reason is kept
 *    for the ack.
 *  - Outage: when the control plane cannot be read (or cannot deliver a bundle) and the function
 *    serves nothing yet, the versions this gateway last served come from the disk cache
 *    (fleet-cache.ts); a function already serving keeps its version.
 *  - A bucket down while Redis answers: a start whose bundles are all on disk never asks the
 *    bucket, so it asks once (one bundle fetch, shared by the functions resolving at the time):
 *    a bucket that cannot deliver marks those functions as served from cache, for /readyz and the
 *    heartbeat (issue 12: "if Redis or the bucket is down at start … the degraded state"), and
 *    every poll asks again until it delivers.
 */
import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import type { Rollout, VersionRecord } from '../control/control-plane.js';
import type { FleetCache } from './fleet-cache.js';
import type { ControlLink } from './fleet-link.js';
import type { VersionSpec } from './version-sources.js';

/** How long a bundle that could not be fetched (or failed its hash) is left alone while the function serves another version. */
export const FETCH_RETRY_MS = 15_000;

/** The versions a function serves new requests with: stable first, then the canary, and its percent. */
export interface Serving {
  readonly versions: readonly string[];
  /** Their load keys (generations.ts), in the same order. */
  readonly keys: readonly string[];
  readonly canaryPercent?: number;
}

/** A version's load key: the version, and a fingerprint of the secrets its pool gets (none: the version alone). */
export function loadKey(version: string, secrets: Readonly<Record<string, string>>): string {
  const entries = Object.entries(secrets).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  if (entries.length === 0) return version;
  return `${version}#${createHash('sha256').update(JSON.stringify(entries)).digest('hex').slice(0, 12)}`;
}

/** The versions a rollout asks for: stable first, then the canary. */
export function rolloutVersions(r: Pick<Rollout, 'stable' | 'canary'>): string[] {
  return [r.stable, ...(r.canary && r.canary.version !== r.stable ? [r.canary.version] : [])];
}

export const sameList = (a: readonly string[], b: readonly string[]) => a.length === b.length && a.every((x, i) => x === b[i]);

/** A spec of a version that is already loaded: the reload pipeline finds it serving and loads nothing. */
const unloaded = (version: string, key: string): VersionSpec => ({ version, bundlePath: '', loadKey: key });

export class FleetResolver {
  /** Version records by function NUL id (immutable). */
  readonly records = new Map<string, VersionRecord>();
  /** The rollout each function was last read at (the ack names its revision). */
  readonly rollouts = new Map<string, Rollout>();
  /** Why the last resolve of a function failed (a fetch, a hash mismatch), until one succeeds. */
  readonly errors = new Map<string, string>();
  /** The secrets the function's pools were last given (cached to disk with what it serves). */
  readonly secretsFor = new Map<string, Record<string, string>>();
  /** Functions serving versions from the disk cache because the control plane could not deliver. */
  readonly fromCache = new Set<string>();
  /** Bundles that could not be fetched or failed their hash check (function NUL version), and when. */
  private readonly failedFetches = new Map<string, { atMs: number; error: string }>();
  /** The bucket check under way (bucketFails), shared by the functions resolving meanwhile. */
  private bucketCheck: Promise<string | undefined> | undefined;

  constructor(
    private readonly link: ControlLink,
    private readonly cache: FleetCache,
    private readonly log: Logger,
  ) {}

  record(name: string, id: string): VersionRecord | undefined {
    return this.records.get(`${name}\0${id}`);
  }

  /** The versions the rollout of `name` names, ready on disk; `serving` is what serves now. */
  async resolve(name: string, serving: Serving): Promise<VersionSpec | undefined> {
    const link = this.link;
    // Known to be unreachable and nothing serving (a start while it is down): the disk first,
    // rather than wait for a call that will time out; the heartbeat notices its return.
    if (link.unreachable && serving.versions.length === 0) {
      const cached = await this.fromDisk(name, link.unreachable);
      if (cached) return cached;
    }
    let rollout: Rollout | undefined;
    try {
      rollout = await link.call(`rollout ${name}`, () => link.cp.rollout(name));
    } catch (e) {
      link.markUnreachable(e);
      if (serving.versions.length > 0) throw e; // what serves goes on serving
      return this.fromDisk(name, e);
    }
    link.markReachable();
    if (!rollout) {
      // Reachable, and it names nothing (a Redis that came back empty): what serves goes on, as a
      // choice rather than a degradation.
      if (this.fromCache.delete(name)) {
        this.log.warn({ event: 'controlPlaneNoRollout', function: name, serving: serving.versions }, `the control plane has no rollout for ${name}; ${serving.versions.join(' + ')} goes on serving`);
      }
      return undefined;
    }
    this.rollouts.set(name, rollout);
    const wanted = rolloutVersions(rollout);
    const sameVersions = sameList(wanted, serving.versions) && (rollout.canary?.percent ?? undefined) === serving.canaryPercent && !this.fromCache.has(name);
    // What serves, asked for again: the reload pipeline finds nothing to do.
    const asServing = (): VersionSpec => {
      const [stable, canary] = serving.versions;
      return { ...unloaded(stable, serving.keys[0]), canary: canary !== undefined ? { spec: unloaded(canary, serving.keys[1]), percent: serving.canaryPercent ?? 0 } : undefined };
    };
    let secrets: Record<string, string>;
    try {
      secrets = await link.call(`secrets of ${name}`, () => link.cp.secrets(name));
    } catch (e) {
      if (sameVersions) return asServing(); // unchanged versions: the secrets they have go on
      this.errors.set(name, (e as Error).message);
      if (serving.versions.length === 0) {
        const cached = await this.fromDisk(name, e);
        if (cached) return cached;
      }
      throw e;
    }
    if (sameVersions && sameList(wanted.map((v) => loadKey(v, secrets)), serving.keys)) {
      this.errors.delete(name);
      return asServing();
    }
    const nowMs = link.now().getTime();
    const recent = wanted.map((v) => this.failedFetches.get(`${name}\0${v}`)).find((f) => f !== undefined && nowMs - f.atMs < FETCH_RETRY_MS);
    if (recent && serving.versions.length > 0) {
      // The ack keeps the reason; the bundle is tried again after FETCH_RETRY_MS.
      this.errors.set(name, recent.error);
      return asServing();
    }
    try {
      const onDisk: VersionRecord[] = [];
      const stable = await this.prepare(name, rollout.stable, secrets, onDisk);
      const canary = rollout.canary && wanted.length > 1 ? { spec: await this.prepare(name, rollout.canary.version, secrets, onDisk), percent: rollout.canary.percent } : undefined;
      this.secretsFor.set(name, secrets);
      // Every bundle from the disk at a start (or while the bucket was down): the bucket was not
      // asked, so ask it. The versions load either way: they are the rollout's, hash-checked.
      const unasked = onDisk.length === wanted.length && (serving.versions.length === 0 || this.fromCache.has(name));
      const bucketDown = unasked ? await this.bucketFails(onDisk[0]) : undefined;
      if (bucketDown) {
        this.errors.set(name, bucketDown);
        this.fromCache.add(name);
        return { ...stable, canary };
      }
      this.errors.delete(name);
      this.fromCache.delete(name);
      return { ...stable, canary };
    } catch (e) {
      this.errors.set(name, (e as Error).message);
      // Nothing serving (a start while the bucket is down): what this gateway served before.
      if (serving.versions.length === 0) {
        const cached = await this.fromDisk(name, e);
        if (cached) return cached;
      }
      throw e;
    }
  }

  /**
   * Why the bucket cannot deliver `record`'s bundle (its fetch's error, which names the bucket and
   * key), or undefined when it delivers. One fetch at a time: functions asking meanwhile share it.
   */
  private bucketFails(record: VersionRecord): Promise<string | undefined> {
    const link = this.link;
    this.bucketCheck ??= link
      .call(`bundle of ${record.function}@${record.id}`, () => link.cp.fetchBundle(record))
      .then(
        () => undefined,
        (e: unknown) => (e as Error)?.message ?? String(e),
      )
      .finally(() => (this.bucketCheck = undefined));
    return this.bucketCheck;
  }

  /**
   * One version ready to load: its record, its bundle in the disk cache, its settings and the
   * secrets. A bundle found on disk (not fetched) has its record pushed to `onDisk`.
   */
  private async prepare(name: string, id: string, secrets: Record<string, string>, onDisk: VersionRecord[]): Promise<VersionSpec> {
    const link = this.link;
    const key = `${name}\0${id}`;
    let record = this.records.get(key);
    if (!record) {
      record = await link.call(`version ${name}@${id}`, () => link.cp.version(name, id));
      if (!record) throw new Error(`the rollout of ${name} names version ${id}, which has no record`);
      this.records.set(key, record);
    }
    let bundlePath: string;
    if (await this.cache.hasBundle(name, record.sha256)) {
      bundlePath = this.cache.bundlePath(name, record.sha256);
      onDisk.push(record);
    } else {
      const r = record;
      try {
        // A bundle is megabytes at most: six call timeouts is a slow bucket, not a dead one.
        const { code, map } = await link.call(`bundle of ${name}@${id}`, () => link.cp.fetchBundle(r), 6 * link.callMs);
        // fetchBundle verifies; a second look costs one hash and guards a control plane that did not.
        const actual = createHash('sha256').update(code).digest('hex');
        if (actual !== r.sha256) throw new Error(`${name}@${id}: bundle sha256 mismatch (expected ${r.sha256}, got ${actual}); rejected`);
        bundlePath = await this.cache.putBundle(name, r.sha256, code, map);
      } catch (e) {
        this.failedFetches.set(key, { atMs: link.now().getTime(), error: (e as Error).message });
        throw e;
      }
      this.failedFetches.delete(key);
    }
    return { version: id, bundlePath, settings: record.settings, secrets, loadKey: loadKey(id, secrets) };
  }

  /** The versions this gateway last served of `name`, from the disk cache; undefined when none (or damaged). */
  private async fromDisk(name: string, cause: unknown): Promise<VersionSpec | undefined> {
    let cached;
    try {
      cached = await this.cache.served(name);
    } catch (e) {
      this.log.error({ event: 'controlCacheUnreadable', function: name, err: e }, `cannot read the cached versions of ${name}`);
      return undefined;
    }
    if (!cached) return undefined;
    const { state, secrets } = cached;
    const stablePath = await this.cache.verifiedBundle(name, state.stable.sha256);
    if (!stablePath) {
      this.log.error({ event: 'controlCacheDamaged', function: name, version: state.stable.id }, `the cached bundle of ${name}@${state.stable.id} is missing or damaged`);
      return undefined;
    }
    const canaryPath = state.canary && (await this.cache.verifiedBundle(name, state.canary.record.sha256));
    for (const r of [state.stable, ...(state.canary ? [state.canary.record] : [])]) this.records.set(`${name}\0${r.id}`, r);
    this.secretsFor.set(name, secrets);
    this.fromCache.add(name);
    this.log.debug({ event: 'controlCacheUsed', function: name, err: cause }, `${name}: loading the cached ${state.stable.id}`);
    const canaryId = state.canary?.record.id;
    return {
      version: state.stable.id,
      bundlePath: stablePath,
      settings: state.stable.settings,
      secrets,
      loadKey: loadKey(state.stable.id, secrets),
      canary:
        state.canary && canaryPath && canaryId
          ? { spec: { version: canaryId, bundlePath: canaryPath, settings: state.canary.record.settings, secrets, loadKey: loadKey(canaryId, secrets) }, percent: state.canary.percent }
          : undefined,
    };
  }
}
