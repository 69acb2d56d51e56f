/**
 * Every function the gateway serves, each as a slot: a version source, its generations, its
 * reloads and the request handler the router calls. This file is the wiring between them and the
 * config: which source each function gets (an in-process handler, an entry file, a deploy
 * folder), how a version becomes a worker pool (the pool spec built from the function's
 * settings), each function's view of the kv store, one file source per root, the status the
 * server stats and readiness read, and shutdown.
 *
 * With a control plane (issue 12) the deployed functions come from the fleet source
 * (fleet-source.ts: rollouts, canaries, acks, the disk cache for outages) instead of a deploy
 * folder poll, and each version's pool runs with the settings and secrets that travel with it
 * (version-settings.ts) over the config's.
 *
 * The steps of a hot reload are in reload.ts (trigger, ask, load, swap, drain; the ReloadNotice
 * union and its bus, which `subscribe` exposes), the current and draining versions in
 * generations.ts, where versions come from in version-sources.ts, the watch of an entry's folder
 * that triggers `rebuild` in source-watch.ts.
 */
import { cachedKey, envKvKey } from '../cache/keyspace.js';
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import type { Logger } from 'pino';
import type { Handler } from '../../../sdk/contract.js';
import { functionConfigSchema, type FunctionConfig, type GatewayConfig } from '../config/schema.js';
import type { RequestHandler } from '../handlers/request.js';
import { LocalDirSink, LocalDirSource } from '../sources/local-dir.js';
import { localDirSource } from '../sources/local-dir-registry.js';
import { DeployStore } from './deploy-store.js';
import { functionHandler, type FunctionUploadOptions } from '../handlers/function.js';
import { InProcessInvoker } from './in-process.js';
import { WarmSpare } from './warm-spare.js';
import { WorkerPool } from './worker-pool.js';
import type { FunctionKv, InvocationObserver, Invoker } from './invoker.js';
import type { KvStore } from '../cache/kv.js';
import type { ObjectSource } from '../objects/object-source.js';
import { makeTempDir, removeTempDir, sweepStaleTempDirs } from './temp-dirs.js';
import { Generations, type PoolTotals } from './generations.js';
import { Reloader, type ReloadTrigger } from './reload.js';
import { ReloadBus, type ReloadEvent, type ReloadNotice } from './reload-notices.js';
import { DeployPoll } from './deploy-poll.js';
import { SourceWatch, type SourceWatchOptions } from './source-watch.js';
import { DeploySource, EntrySource, InProcessSource, type VersionSource, type VersionSourceKind, type VersionSpec } from './version-sources.js';
import type { ControlPlane } from '../control/control-plane.js';
import { FleetSource } from './fleet-source.js';
import { FleetCache } from './fleet-cache.js';
import { clientIdentity } from './canary-pick.js';
import { DEFAULTS } from '../config/defaults.js';
import { defaultControlCacheDir } from './fleet-cache-dir.js';
import { versionSettings, writesRefused, type WritePolicy } from './version-settings.js';
import type { FunctionRouteClaim } from '../routing/function-routes.js';

// Named here too for the runtime's existing importers (index.ts, stats/, app/, tests).
export type { PoolTotals } from './generations.js';
export type { ReloadComplete, ReloadEvent, ReloadFailed, ReloadNotice } from './reload-notices.js';
export type { SourceWatch } from './source-watch.js';
export type { VersionSpec } from './version-sources.js';

export interface FunctionStatus {
  readonly name: string;
  readonly source: VersionSourceKind;
  readonly version: string | undefined;
  /** A canary version beside it, and the percent of clients whose new sessions it takes. */
  readonly canary?: { readonly version: string; readonly percent: number };
  readonly workers: number;
  readonly inflight: number;
  /** Older versions still finishing transfers. */
  readonly draining: number;
  /** Totals over every version this gateway ran (worker pools only; zeros in process). */
  readonly totals: PoolTotals;
}

/** One function: where its versions come from, its generations, its reloads and its handler. */
class FunctionSlot {
  readonly generations: Generations;
  readonly reloader: Reloader;
  readonly handler: RequestHandler;

  constructor(
    readonly name: string,
    readonly source: VersionSource,
    load: (spec: VersionSpec) => Promise<Invoker>,
    emit: (n: ReloadNotice) => void,
    files: LocalDirSource,
    sink: LocalDirSink | undefined,
    readAheadBytes: number,
    objects: ObjectSource | undefined,
    uploads?: FunctionUploadOptions,
    uploadsFor?: (version: string) => FunctionUploadOptions | undefined,
  ) {
    this.generations = new Generations(name);
    this.reloader = new Reloader(name, source, load, this.generations, emit);
    // The client's identity is only worked out while a canary splits new sessions.
    const pin = (request: { path: { normalized: string }; peer: { address: string } }) =>
      this.generations.pin(this.generations.canary ? clientIdentity(request.path.normalized, request.peer.address) : undefined);
    this.handler = functionHandler({ name, pin, files, sink, readAheadBytes, objects, uploads, uploadsFor });
  }

  reload(trigger?: ReloadTrigger): Promise<void> {
    return this.reloader.reload(trigger);
  }

  /** Retires every version; after `graceMs`, versions still held are shut regardless. */
  async close(graceMs: number): Promise<void> {
    this.reloader.abort();
    await this.reloader.settled();
    await this.generations.close(graceMs);
  }
}

export interface RuntimeOptions {
  readonly config: GatewayConfig;
  readonly log: Logger;
  /** Handlers run on the gateway thread (createGateway's `handle`), by function name. */
  readonly inProcess?: Readonly<Record<string, Handler>>;
  readonly onReload?: (e: ReloadEvent) => void;
  /** Behind env.kv and cached(); absent: reads miss, writes are dropped. */
  readonly kv?: KvStore;
  /** Behind s3Object() responses. */
  readonly objects?: ObjectSource;
  /** Invocation latency and outcome, for metrics. */
  readonly onInvocation?: InvocationObserver;
  /** Where deployed versions come from (issue 12); without it, the deploy folder is polled as before. */
  readonly controlPlane?: ControlPlane;
  /** The fleet's secrets key: seals the secrets kept in the disk cache. */
  readonly secretsKey?: Buffer;
  /** Names this gateway in acknowledgements and presence. */
  readonly gatewayId?: string;
}

/**
 * A function's view of the key-value store: env.kv keys under 'kv:' (shared by all functions,
 * e.g. an inventory), cached() keys under 'cached:NAME:' (private), so no function can reach
 * the gateway's own object cache entries.
 */
export function functionKv(store: KvStore, name: string): FunctionKv {
  return async (op, key, value, ttl) => {
    switch (op) {
      case 'get':
        return store.get(envKvKey(key));
      case 'set':
        await store.set(envKvKey(key), value ?? new Uint8Array(0), ttl);
        return undefined;
      case 'del':
        await store.del(envKvKey(key));
        return undefined;
      case 'cacheGet':
        return store.get(cachedKey(name, key));
      case 'cacheSet':
        await store.set(cachedKey(name, key), value ?? new Uint8Array(0), ttl);
        return undefined;
    }
  };
}

const DEFAULT_SETTINGS: FunctionConfig = functionConfigSchema.parse({});

export class FunctionRuntime {
  private readonly slots = new Map<string, FunctionSlot>();
  private readonly store: DeployStore | undefined;
  private readonly buildDir: string;
  private deployPoll: DeployPoll | undefined;
  private fleet: FleetSource | undefined;
  /** Routes a loaded version declared, by NAME@VERSION (routeClaims() reads the serving ones). */
  private readonly declaredRoutes = new Map<string, FunctionRouteClaim['routes']>();
  /** Each loaded version's upload settings (its manifest's within the config's), by NAME@VERSION. */
  private readonly versionUploads = new Map<string, FunctionUploadOptions>();
  private readonly bus: ReloadBus;
  private readonly watches = new Set<SourceWatch>();
  private readonly sink: LocalDirSink | undefined;
  private readonly filesByRoot = new Map<string, LocalDirSource>();
  /** Each function's warm spare (functions.NAME.warmSpare), closed with the runtime. */
  private readonly spares = new Set<WarmSpare>();

  private constructor(private readonly opts: RuntimeOptions) {
    const c = opts.config;
    this.store = c.deployDir ? new DeployStore(c.deployDir) : undefined;
    // Folders of gateways that died without cleaning up (SIGKILL, a crash) go first.
    const swept = sweepStaleTempDirs();
    if (swept.length > 0) opts.log.info({ event: 'tempSwept', folders: swept.length }, `removed ${swept.length} temp folders left by dead gateways`);
    this.buildDir = makeTempDir();
    this.bus = new ReloadBus(opts.log, opts.onReload);
    this.sink = c.writeRoot ? new LocalDirSink(c.writeRoot, c.allowOverwrite) : undefined;
  }

  /** Builds and loads every configured function; an entry that fails to build or load fails start. */
  static async start(opts: RuntimeOptions): Promise<FunctionRuntime> {
    const rt = new FunctionRuntime(opts);
    try {
      await rt.init();
    } catch (e) {
      await rt.close();
      throw e;
    }
    return rt;
  }

  private async init(): Promise<void> {
    const { config } = this.opts;
    for (const [name, handle] of Object.entries(this.opts.inProcess ?? {})) {
      const settings = config.functions[name] ?? DEFAULT_SETTINGS;
      const slot = this.addSlot(name, new InProcessSource(), settings, async () =>
        new InProcessInvoker(handle, { name, timeoutMs: settings.timeoutMs, vars: settings.vars, secrets: settings.secrets, kv: this.opts.kv && functionKv(this.opts.kv, name) }, this.opts.log),
      );
      await slot.reload();
    }
    for (const [name, settings] of Object.entries(config.functions)) {
      if (!settings.entry || this.slots.has(name)) continue;
      const slot = this.addSlot(name, new EntrySource(name, resolve(settings.entry), this.buildDir), settings);
      await slot.reload();
      // An entry given in the config is the operator's promise that it works: fail loudly.
      if (!slot.generations.current) throw new Error(`function "${name}" (${settings.entry}) failed to load: ${slot.reloader.lastError ?? 'see the log'}`);
    }
    if (this.opts.controlPlane) {
      await this.startFleet(this.opts.controlPlane);
    } else if (this.store) {
      const store = this.store;
      this.deployPoll = new DeployPoll(store, this.opts.log, async (names) => {
        for (const name of names) {
          if (this.slots.has(name)) continue;
          const settings = this.opts.config.functions[name] ?? DEFAULT_SETTINGS;
          this.addSlot(name, new DeploySource(store, name), settings);
        }
        await Promise.all([...this.slots.values()].filter((s) => s.source.kind === 'deploy').map((s) => s.reload()));
      });
      await this.deployPoll.start(config.reloadPollMs);
    }
  }

  /** Follows the control plane's rollouts; resolves once every deployed function's first load is over. */
  private async startFleet(controlPlane: ControlPlane): Promise<void> {
    const c = this.opts.config;
    const inProcess = new Set(Object.keys(this.opts.inProcess ?? {}));
    // Routes and entry-less config functions name functions that only a deploy can provide.
    const named = new Set<string>();
    for (const r of c.routes) {
      const fn = (r as { function?: unknown } | null)?.function;
      if (typeof fn === 'string') named.add(fn);
    }
    if (c.defaultRoute?.function) named.add(c.defaultRoute.function);
    for (const [name, f] of Object.entries(c.functions)) if (!f.entry) named.add(name);
    const fleet = new FleetSource({
      controlPlane,
      cache: new FleetCache(c.controlCacheDir ?? defaultControlCacheDir(c, controlPlane.kind), this.opts.secretsKey),
      gatewayId: this.opts.gatewayId ?? c.gatewayId ?? `${hostname()}-${process.pid}`,
      log: this.opts.log,
      pollMs: c.controlPollMs,
      heartbeatMs: DEFAULTS.controlHeartbeatMs,
      names: [...named].filter((n) => !inProcess.has(n)),
    });
    this.fleet = fleet;
    await fleet.start({
      ensure: (name, source) => {
        if (this.slots.has(name)) return false;
        this.addSlot(name, source, this.opts.config.functions[name] ?? DEFAULT_SETTINGS);
        return true;
      },
      reload: (name) => this.slots.get(name)?.reload() ?? Promise.resolve(),
      serving: (name) => {
        const g = this.slots.get(name)?.generations;
        return { versions: g?.serving() ?? [], keys: g?.servingKeys() ?? [], canaryPercent: g?.canary?.percent };
      },
      lastError: (name) => this.slots.get(name)?.reloader.lastError,
    });
  }

  /** Why the control plane side is degraded (for /readyz); undefined when it is not, or there is none. */
  degraded(): string | undefined {
    return this.fleet?.degraded();
  }

  /** True when deployed versions come from a control plane (and may declare routes). */
  get followsControlPlane(): boolean {
    return this.fleet !== undefined;
  }

  /** The routes each function's stable version declares (its settings' `routes`), for the router. */
  routeClaims(): FunctionRouteClaim[] {
    const claims: FunctionRouteClaim[] = [];
    for (const [name, slot] of this.slots) {
      const version = slot.generations.current?.version;
      const routes = version === undefined ? undefined : this.declaredRoutes.get(`${name}@${version}`);
      if (version !== undefined && routes && routes.length > 0) claims.push({ function: name, version, routes });
    }
    return claims;
  }

  private addSlot(name: string, source: VersionSource, configured: FunctionConfig, load?: (spec: VersionSpec) => Promise<Invoker>): FunctionSlot {
    const c = this.opts.config;
    // One idle process per function, adopted by the next version's pool (warm-spare.ts).
    const spare = !load && configured.warmSpare ? new WarmSpare({ log: this.opts.log.child({ function: name }) }) : undefined;
    if (spare) this.spares.add(spare);
    const loader =
      load ??
      (async (spec: VersionSpec) => {
        const policy: WritePolicy = { allowManifestWrites: c.allowManifestWrites, maxUploadBytes: c.maxUploadBytes };
        const settings = versionSettings(configured, spec, policy);
        this.versionUploads.set(`${name}@${spec.version}`, this.uploadOptions(settings));
        if (writesRefused(configured, spec, policy)) {
          this.opts.log.warn({ event: 'manifestWritesRefused', function: name, fnVersion: spec.version }, `function "${name}" version ${spec.version} asks for writes in its manifest; this gateway refuses them (set allowManifestWrites, or functions.${name}.writes, to allow)`);
        }
        if (spec.settings?.routes) this.declaredRoutes.set(`${name}@${spec.version}`, spec.settings.routes);
        const pool = new WorkerPool(
          {
            name,
            version: spec.version,
            bundlePath: spec.bundlePath,
            size: settings.poolSize,
            heapMb: settings.heapMb,
            timeoutMs: settings.timeoutMs,
            maxConcurrent: settings.maxConcurrent,
            vars: settings.vars,
            secrets: settings.secrets,
            streamHighWaterBytes: Math.max(4 * c.readAheadBytes, 256 * 1024),
            kv: this.opts.kv && functionKv(this.opts.kv, name),
            onInvocation: this.opts.onInvocation,
            isolation: settings.isolation,
            memoryMb: settings.memoryMb,
            uid: settings.uid,
            gid: settings.gid,
            allowRead: settings.allowRead,
            ...(spare && settings.isolation === 'process' ? { spare } : {}),
            log: { linesPerInvocation: settings.logLinesPerInvocation, bytesPerInvocation: settings.logBytesPerInvocation, linesPerSecond: settings.logLinesPerSecond },
          },
          this.opts.log,
        );
        await pool.start();
        return pool;
      });
    // Uploads through the function (issue 15): off unless functions.NAME.writes; a loaded
    // version's manifest may narrow them, or turn them on where allowManifestWrites lets it.
    const uploads = this.uploadOptions(configured);
    const uploadsFor = !load && (configured.writes || c.allowManifestWrites) ? (version: string) => this.versionUploads.get(`${name}@${version}`) ?? uploads : undefined;
    const slot = new FunctionSlot(name, source, loader, this.bus.emit, this.files(configured.root ?? c.root), this.sink, c.readAheadBytes, this.opts.objects, uploads, uploadsFor);
    this.slots.set(name, slot);
    return slot;
  }

  /** functions.NAME.writes and its limits (a version's, after versionSettings) as the function handler takes them. */
  private uploadOptions(f: FunctionConfig): FunctionUploadOptions {
    const c = this.opts.config;
    return {
      enabled: f.writes,
      maxBytes: f.maxUploadBytes ?? c.maxUploadBytes,
      maxPerClient: f.maxUploadsPerClient,
      overwrite: f.allowOverwrite,
      partBytes: c.uploadPartBytes,
      partsInFlight: c.uploadPartsInFlight,
      sweepIntervalMs: c.uploadSweepIntervalMs,
      sweepAgeMs: c.uploadSweepAgeMs,
    };
  }

  private files(root: string): LocalDirSource {
    let source = this.filesByRoot.get(root);
    if (!source) {
      const c = this.opts.config;
      // One source per root, shared with folder routes (sources/local-dir-registry.ts).
      source = localDirSource(root, {
        readAheadBytes: c.readAheadBytes,
        cacheTtlMs: c.fileCacheTtlMs,
        cacheMaxFileBytes: c.fileCacheMaxFileBytes,
        cacheMaxTotalBytes: c.fileCacheMaxBytes,
      });
      this.filesByRoot.set(root, source);
    }
    return source;
  }

  /** Discovers newly deployed functions and reloads changed ones; one poll at a time. */
  poll(): Promise<void> {
    return this.fleet?.poll() ?? this.deployPoll?.poll() ?? Promise.resolve();
  }

  /**
   * Rebuilds an entry function from its source and swaps it in (tftpfn dev): a change, so an
   * attempt still building an older save is abandoned for this one (reload.ts).
   */
  async rebuild(name: string): Promise<void> {
    await this.entrySlot(name).reload('change');
  }

  /**
   * Rebuilds an entry function after every burst of changes until the returned watch is closed,
   * or the runtime is: to the files `opts.inputs` names (dev passes the bundle's input graph),
   * else to the top level of `dir`. What happens is told to `subscribe`rs.
   */
  watch(name: string, dir: string, opts: SourceWatchOptions = {}): SourceWatch {
    this.entrySlot(name);
    const w = new SourceWatch(dir, () => void this.rebuild(name), {
      ...opts,
      onError: (err) => {
        this.watches.delete(w);
        this.opts.log.error({ event: 'sourceWatchError', function: name, dir, err }, `stopped watching ${dir}`);
        opts.onError?.(err);
      },
    });
    this.watches.add(w);
    return w;
  }

  /** Every reload notice of every function from now on, as it happens; returns the unsubscribe. */
  subscribe(listener: (n: ReloadNotice) => void): () => void {
    return this.bus.subscribe(listener);
  }

  private entrySlot(name: string): FunctionSlot {
    const slot = this.slots.get(name);
    if (!slot || !(slot.source instanceof EntrySource)) throw new Error(`"${name}" is not a function built from an entry file`);
    return slot;
  }

  /** Why the last load of a function failed, or undefined when it succeeded. */
  lastError(name: string): string | undefined {
    return this.slots.get(name)?.reloader.lastError;
  }

  handler(name: string): RequestHandler | undefined {
    return this.slots.get(name)?.handler;
  }

  names(): string[] {
    return [...this.slots.keys()].sort();
  }

  status(): FunctionStatus[] {
    return this.names().map((name) => {
      const slot = this.slots.get(name)!;
      const inv = slot.generations.current?.invoker;
      const canary = slot.generations.canary;
      return {
        name,
        source: slot.source.kind,
        version: slot.generations.current?.version,
        ...(canary ? { canary: { version: canary.generation.version, percent: canary.percent } } : {}),
        workers: inv instanceof WorkerPool ? inv.size : 0,
        inflight: inv?.inflight ?? 0,
        draining: slot.generations.draining.size,
        totals: slot.generations.totals(),
      };
    });
  }

  /** Stops watching for deploys and shuts every pool, waiting up to graceMs for transfers. */
  async close(graceMs = 0): Promise<void> {
    for (const w of this.watches) w.close();
    this.watches.clear();
    await this.deployPoll?.close();
    await this.fleet?.close();
    await Promise.all([...this.slots.values()].map((s) => s.close(graceMs)));
    await Promise.all([...this.spares].map((s) => s.close()));
    removeTempDir(this.buildDir);
  }
}
