/**
 * Where a function's versions come from. A source answers one question, "which version is
 * current, and where is its bundle?" (`current()`); reload.ts asks it whenever a reload is
 * triggered and loads the answer if it is new. A source never loads or swaps anything itself.
 *
 *  - EntrySource: an entry file from the config (`functions.NAME.entry`), bundled with esbuild on
 *    first ask into the runtime's build folder; the version id is `local-` and the first 12 hex
 *    digits of the bundle's SHA-256, so an unchanged rebuild is not a new version.
 *    `invalidate()` makes the next ask rebuild it (`tftpfn dev` after a file change). A build
 *    that the reload abandons (`signal`: a newer save came in) is cancelled, and a build that
 *    outlives an `invalidate()` is never remembered, so a stale bundle is never handed out after
 *    a newer save.
 *  - DeploySource: the `current` pointer of a deploy folder (deploy-store.ts), read on every ask.
 *  - InProcessSource: a handler on the gateway's own thread (createGateway's `handle`): one
 *    fixed version, 'in-process', without a bundle.
 *  - FleetVersionSource (fleet-source.ts): the rollout a control plane names (issue 12): a
 *    stable version and maybe a canary, each fetched, verified and cached on local disk, with
 *    the settings and secrets that travel with it (`settings`, `secrets`, `canary` below).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BUNDLE_FILE, bundleFunction, MAP_FILE, type BuiltBundle, type BundleOptions } from './bundle.js';
import type { DeployStore } from './deploy-store.js';
import type { FunctionSettings } from '../control/control-plane.js';

/** A loadable version: its id and the bundle on disk. */
export interface VersionSpec {
  readonly version: string;
  readonly bundlePath: string;
  /** Settings that travel with the version (a control plane's record): over the config's for its pool. */
  readonly settings?: FunctionSettings;
  /** Secrets from the control plane: over the config's `secrets` for its pool. */
  readonly secrets?: Readonly<Record<string, string>>;
  /**
   * What is loaded, when more than the version: the same version with another key is loaded
   * again (a fleet version whose secrets were rotated). Default: the version.
   */
  readonly loadKey?: string;
  /** A second version for `percent`% of clients' new sessions (canary-pick.ts). */
  readonly canary?: { readonly spec: VersionSpec; readonly percent: number };
}

export type VersionSourceKind = 'entry' | 'deploy' | 'fleet' | 'in-process';

/** Where a function's versions come from. */
export interface VersionSource {
  readonly kind: VersionSourceKind;
  /** The current version; `signal` aborts the question (a newer change superseded it). */
  current(signal?: AbortSignal): Promise<VersionSpec | undefined>;
  /** The files behind it changed: the next `current()` must not answer from memory. */
  invalidate?(): void;
}

/** How an entry is bundled (bundle.ts; a fake in unit tests). */
export type Bundler = (entry: string, opts: BundleOptions) => Promise<Pick<BuiltBundle, 'code' | 'map' | 'sha256'>>;

/** An entry file bundled on demand; `invalidate` makes the next load rebuild it (dev mode). */
export class EntrySource implements VersionSource {
  readonly kind = 'entry';
  private built: VersionSpec | undefined;
  /** Bumped by every invalidate(): a build begun before the latest one is stale. */
  private epoch = 0;

  constructor(
    private readonly name: string,
    private readonly entry: string,
    private readonly outDir: string,
    private readonly bundle: Bundler = bundleFunction,
  ) {}

  invalidate(): void {
    this.epoch++;
    this.built = undefined;
  }

  async current(signal?: AbortSignal): Promise<VersionSpec> {
    if (this.built) return this.built;
    let epoch;
    let bundle;
    // The files may change while a build reads them (invalidate() during the await): such a
    // bundle may hold the old text, so build again rather than remember it.
    do {
      epoch = this.epoch;
      bundle = await this.bundle(this.entry, { signal });
      signal?.throwIfAborted();
    } while (epoch !== this.epoch);
    const version = `local-${bundle.sha256.slice(0, 12)}`;
    const dir = join(this.outDir, this.name, version);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, BUNDLE_FILE), bundle.code);
    writeFileSync(join(dir, MAP_FILE), bundle.map);
    this.built = { version, bundlePath: join(dir, BUNDLE_FILE) };
    return this.built;
  }
}

/** The version a deploy folder's `current` pointer names. */
export class DeploySource implements VersionSource {
  readonly kind = 'deploy';
  constructor(private readonly store: DeployStore, private readonly name: string) {}
  async current(): Promise<VersionSpec | undefined> {
    const v = await this.store.current(this.name);
    return v && { version: v.version, bundlePath: v.bundlePath };
  }
}

/** A handler run on the gateway's thread: always the one version 'in-process'. */
export class InProcessSource implements VersionSource {
  readonly kind = 'in-process';
  async current(): Promise<VersionSpec> {
    return { version: 'in-process', bundlePath: '' };
  }
}
