/**
 * Every function the gateway serves, each as a slot (function-slot.ts: a version source, its
 * generations, its reloads and the request handler the router calls). This file is the wiring
 * between them and the config: which source each function gets (an in-process handler, an entry
 * file, a deploy folder), one file source per root, the status the server stats and readiness
 * read, and shutdown. How a version becomes a worker pool, and what it declares besides, is
 * version-loads.ts; each function's view of the kv store is function-kv.ts.
 *
 * With a control plane (issue 12) the deployed functions come from the fleet source
 * (fleet-source.ts, built from the config in fleet-wiring.ts: rollouts, canaries, acks, the disk
 * cache for outages) instead of a deploy folder poll, and each version's pool runs with the
 * settings and secrets that travel with it (version-settings.ts) over the config's.
 *
 * The steps of a hot reload are in reload.ts (trigger, ask, load, swap, drain; the ReloadNotice
 * union and its bus, which `subscribe` exposes, in reload-notices.ts), the current and draining
 * versions in generations.ts, where versions come from in version-sources.ts, the watch of an
 * entry's files that triggers `rebuild` in source-watch.ts (kept by entry-watches.ts).
 */
import { resolve } from 'node:path';
import type { Logger } from 'pino';
import type { Handler } from '../../../sdk/contract.js';
import { functionConfigSchema, type FunctionConfig, type GatewayConfig } from '../config/schema.js';
import type { RequestHandler } from '../handlers/request.js';
import { LocalDirSink, type LocalDirSource } from '../sources/local-dir.js';
import { localDirSource } from '../sources/local-dir-registry.js';
import { DeployStore } from './deploy-store.js';
import { InProcessInvoker } from './in-process.js';
import { WarmSpare } from './warm-spare.js';
import type { InvocationObserver, Invoker } from './invoker.js';
import type { KvStore } from '../cache/kv.js';
import type { ObjectSource } from '../objects/object-source.js';
import { makeTempDir, removeTempDir, sweepStaleTempDirs } from './temp-dirs.js';
import { ReloadBus, type ReloadEvent, type ReloadNotice } from './reload-notices.js';
import { DeployPoll } from './deploy-poll.js';
import type { SourceWatch, SourceWatchOptions } from './source-watch.js';
import { EntryWatches } from './entry-watches.js';
import { DeploySource, EntrySource, InProcessSource, type VersionSource, type VersionSpec } from './version-sources.js';
import type { ControlPlane } from '../control/control-plane.js';
import type { FleetSource } from './fleet-source.js';
import { fleetSourceFor } from './fleet-wiring.js';
import type { FunctionRouteClaim } from '../routing/function-routes.js';
import { functionKv } from './function-kv.js';
import { FunctionSlot, type FunctionStatus } from './function-slot.js';
import { uploadOptions, VersionLoads } from './version-loads.js';

// Named here too for the runtime's existing importers (index.ts, stats/, app/, tests).
export { functionKv } from './function-kv.js';
export type { FunctionStatus } from './function-slot.js';
export type { PoolTotals } from './generations.js';
export type { ReloadComplete, ReloadEvent, ReloadFailed, ReloadNotice } from './reload-notices.js';
export type { SourceWatch } from './source-watch.js';
export type { VersionSpec } from './version-sources.js';

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

const DEFAULT_SETTINGS: FunctionConfig = functionConfigSchema.parse({});

export class FunctionRuntime {
  private readonly slots = new Map<string, FunctionSlot>();
  private readonly store: DeployStore | undefined;
  private readonly buildDir: string;
  private deployPoll: DeployPoll | undefined;
  private fleet: FleetSource | undefined;
  /** How versions load, and the routes and upload settings each loaded one brought. */
  private readonly loads: VersionLoads;
  private readonly bus: ReloadBus;
  private readonly entries: EntryWatches;
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
    this.loads = new VersionLoads(opts);
    this.entries = new EntryWatches((name) => this.slots.get(name), opts.log);
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
    const { log, secretsKey, gatewayId } = this.opts;
    const fleet = fleetSourceFor(this.opts.config, controlPlane, { log, inProcess: Object.keys(this.opts.inProcess ?? {}), secretsKey, gatewayId });
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
      const routes = version === undefined ? undefined : this.loads.routes(name, version);
      if (version !== undefined && routes && routes.length > 0) claims.push({ function: name, version, routes });
    }
    return claims;
  }

  private addSlot(name: string, source: VersionSource, configured: FunctionConfig, load?: (spec: VersionSpec) => Promise<Invoker>): FunctionSlot {
    const c = this.opts.config;
    // One idle process per function, adopted by the next version's pool (warm-spare.ts).
    const spare = !load && configured.warmSpare ? new WarmSpare({ log: this.opts.log.child({ function: name }) }) : undefined;
    if (spare) this.spares.add(spare);
    const loader = load ?? this.loads.loader(name, configured, spare);
    // Uploads through the function (issue 15): off unless functions.NAME.writes; a loaded
    // version's manifest may narrow them, or turn them on where allowManifestWrites lets it.
    const uploads = uploadOptions(configured, c);
    const uploadsFor = !load && (configured.writes || c.allowManifestWrites) ? this.loads.uploadsFor(name, uploads) : undefined;
    const slot = new FunctionSlot(name, source, loader, this.bus.emit, this.files(configured.root ?? c.root), this.sink, c.readAheadBytes, this.opts.objects, uploads, uploadsFor);
    this.slots.set(name, slot);
    return slot;
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
  rebuild(name: string): Promise<void> {
    return this.entries.rebuild(name);
  }

  /**
   * Rebuilds an entry function after every burst of changes until the returned watch is closed,
   * or the runtime is: to the files `opts.inputs` names (dev passes the bundle's input graph),
   * else to the top level of `dir`. What happens is told to `subscribe`rs.
   */
  watch(name: string, dir: string, opts: SourceWatchOptions = {}): SourceWatch {
    return this.entries.watch(name, dir, opts);
  }

  /** Every reload notice of every function from now on, as it happens; returns the unsubscribe. */
  subscribe(listener: (n: ReloadNotice) => void): () => void {
    return this.bus.subscribe(listener);
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
    return this.names().map((name) => this.slots.get(name)!.status());
  }

  /** Stops watching for deploys and shuts every pool, waiting up to graceMs for transfers. */
  async close(graceMs = 0): Promise<void> {
    this.entries.close();
    await this.deployPoll?.close();
    await this.fleet?.close();
    await Promise.all([...this.slots.values()].map((s) => s.close(graceMs)));
    await Promise.all([...this.spares].map((s) => s.close()));
    removeTempDir(this.buildDir);
  }
}
