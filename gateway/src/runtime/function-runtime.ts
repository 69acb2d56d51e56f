/**
 * Every function the gateway serves, each as a slot holding its current version.
 *
 * Hot reload, per function: a new version (a deploy, or a rebuilt entry in `tftpfn dev`) is
 * loaded into a fresh pool while the old one keeps serving; once every worker of the new
 * pool has loaded the bundle, new requests go to it; requests already pinned to the old
 * version finish there, and the old pool is shut down when the last one lets go. A version
 * that fails to load is logged and skipped until the deploy changes again; the previous
 * version never stops serving. Reloads of one function are serialised, and a burst of
 * deploys while one is loading collapses into one more load of the newest.
 */
import { cachedKey, envKvKey } from '../cache/keyspace.js';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import type { Handler } from '../../../sdk/contract.js';
import { functionConfigSchema, type FunctionConfig, type GatewayConfig } from '../config/schema.js';
import type { RequestHandler } from '../handlers/request.js';
import { LocalDirSink, LocalDirSource } from '../sources/local-dir.js';
import { localDirSource } from '../sources/local-dir-registry.js';
import { BUNDLE_FILE, bundleFunction, MAP_FILE } from './bundle.js';
import { DeployStore } from './deploy-store.js';
import { functionHandler, type PinnedVersion } from '../handlers/function.js';
import { InProcessInvoker } from './in-process.js';
import { WorkerPool } from './worker-pool.js';
import type { FunctionKv, InvocationObserver, Invoker } from './invoker.js';
import type { KvStore } from '../cache/kv.js';
import type { ObjectSource } from '../objects/object-source.js';
import { makeTempDir, removeTempDir, sweepStaleTempDirs } from './temp-dirs.js';

/** A loadable version: its id and the bundle on disk. */
export interface VersionSpec {
  readonly version: string;
  readonly bundlePath: string;
}

/** Where a function's versions come from. */
interface VersionSource {
  readonly kind: 'entry' | 'deploy' | 'in-process';
  current(): Promise<VersionSpec | undefined>;
}

export interface ReloadEvent {
  readonly function: string;
  readonly version: string;
  readonly previous: string | undefined;
  readonly ok: boolean;
  readonly loadMs: number;
  readonly error?: string;
}

export interface FunctionStatus {
  readonly name: string;
  readonly source: 'entry' | 'deploy' | 'in-process';
  readonly version: string | undefined;
  readonly workers: number;
  readonly inflight: number;
  /** Older versions still finishing transfers. */
  readonly draining: number;
  /** Totals over every version this gateway ran (worker pools only; zeros in process). */
  readonly totals: PoolTotals;
}

export interface PoolTotals {
  invocations: number;
  /** User code threw, rejected or returned something that is not a Response. */
  failures: number;
  timeouts: number;
  /** Workers that died: heap limit, process.exit, uncaught exception, terminated as stuck. */
  crashes: number;
  /** Invocations run again after their worker died under them. */
  retries: number;
  restarts: number;
}

const zeroTotals = (): PoolTotals => ({ invocations: 0, failures: 0, timeouts: 0, crashes: 0, retries: 0, restarts: 0 });

function addTotals(into: PoolTotals, invoker: Invoker | undefined): PoolTotals {
  if (invoker instanceof WorkerPool) for (const k of Object.keys(into) as (keyof PoolTotals)[]) into[k] += invoker.stats[k];
  return into;
}

class Generation {
  private refs = 0;
  private retiring: Promise<void> | undefined;
  private resolveRetired: () => void = () => {};
  private closing: Promise<void> | undefined;

  constructor(readonly version: string, readonly invoker: Invoker) {}

  pin(): PinnedVersion {
    this.refs++;
    let released = false;
    return {
      version: this.version,
      invoker: this.invoker,
      release: () => {
        if (released) return;
        released = true;
        this.refs--;
        this.closeIfIdle();
      },
    };
  }

  /** Takes no new requests; resolves once the pinned ones are done and the pool is shut. */
  retire(): Promise<void> {
    if (!this.retiring) {
      this.retiring = new Promise<void>((r) => (this.resolveRetired = r));
      this.closeIfIdle();
    }
    return this.retiring;
  }

  /** Shuts the pool now, whoever still holds it (their transfers fail). */
  forceClose(): Promise<void> {
    void this.retire();
    this.shut();
    return this.retiring!;
  }

  private closeIfIdle(): void {
    if (this.retiring && this.refs === 0) this.shut();
  }

  private shut(): void {
    this.closing ??= this.invoker.close().then(() => this.resolveRetired());
  }
}

class FunctionSlot {
  current: Generation | undefined;
  readonly draining = new Set<Generation>();
  private chain: Promise<void> | undefined;
  private again = false;
  private failedVersion: string | undefined;
  /** Why the last reload attempt failed, if it did. */
  lastError: string | undefined;
  /** Pool counters of versions already shut down. */
  readonly retiredTotals: PoolTotals = zeroTotals();
  readonly handler: RequestHandler;

  constructor(
    readonly name: string,
    readonly source: VersionSource,
    private readonly load: (spec: VersionSpec) => Promise<Invoker>,
    private readonly log: Logger,
    private readonly onReload: ((e: ReloadEvent) => void) | undefined,
    files: LocalDirSource,
    sink: LocalDirSink | undefined,
    readAheadBytes: number,
    objects: ObjectSource | undefined,
  ) {
    this.handler = functionHandler({ name, pin: () => this.current?.pin(), files, sink, readAheadBytes, objects });
  }

  /** Loads the source's current version if it is new; resolves when that attempt is over. */
  reload(): Promise<void> {
    if (this.chain) {
      this.again = true;
      return this.chain;
    }
    this.chain = (async () => {
      do {
        this.again = false;
        await this.reloadOnce();
      } while (this.again);
    })().finally(() => {
      this.chain = undefined;
    });
    return this.chain;
  }

  private async reloadOnce(): Promise<void> {
    let spec: VersionSpec | undefined;
    try {
      spec = await this.source.current();
    } catch (e) {
      this.lastError = (e as Error).message;
      this.log.error({ event: 'functionSourceError', function: this.name, err: e }, `cannot read or build the current version of ${this.name}`);
      return;
    }
    if (!spec || spec.version === this.current?.version || spec.version === this.failedVersion) return;
    const started = performance.now();
    const previous = this.current?.version;
    let invoker: Invoker;
    try {
      invoker = await this.load(spec);
    } catch (e) {
      this.failedVersion = spec.version;
      const loadMs = performance.now() - started;
      const error = (e as Error).message;
      this.lastError = error;
      this.log.error(
        { event: 'functionRejected', function: this.name, version: spec.version, previous, error },
        `${this.name}@${spec.version} failed to load; ${previous ? `${previous} keeps serving` : 'the function stays unavailable'}`,
      );
      this.onReload?.({ function: this.name, version: spec.version, previous, ok: false, loadMs, error });
      return;
    }
    const old = this.current;
    this.current = new Generation(spec.version, invoker);
    this.failedVersion = undefined;
    this.lastError = undefined;
    const loadMs = performance.now() - started;
    this.log.info({ event: 'functionLoaded', function: this.name, version: spec.version, previous, loadMs: Math.round(loadMs) }, `${this.name}@${spec.version} serving`);
    this.onReload?.({ function: this.name, version: spec.version, previous, ok: true, loadMs });
    if (old) {
      this.draining.add(old);
      void old.retire().then(() => {
        this.draining.delete(old);
        addTotals(this.retiredTotals, old.invoker);
        this.log.info({ event: 'functionRetired', function: this.name, version: old.version }, `${this.name}@${old.version} retired`);
      });
    }
  }

  /** Retires every version; after `graceMs`, versions still held are shut regardless. */
  async close(graceMs: number): Promise<void> {
    await this.chain;
    const all = [...this.draining, ...(this.current ? [this.current] : [])];
    this.current = undefined;
    const timer = setTimeout(() => all.forEach((g) => void g.forceClose()), graceMs);
    await Promise.all(all.map((g) => g.retire()));
    clearTimeout(timer);
  }
}

/** An entry file bundled on demand; `invalidate` makes the next load rebuild it (dev mode). */
class EntrySource implements VersionSource {
  readonly kind = 'entry';
  private built: VersionSpec | undefined;

  constructor(private readonly name: string, private readonly entry: string, private readonly outDir: string) {}

  invalidate(): void {
    this.built = undefined;
  }

  async current(): Promise<VersionSpec> {
    if (this.built) return this.built;
    const bundle = await bundleFunction(this.entry);
    const version = `local-${bundle.sha256.slice(0, 12)}`;
    const dir = join(this.outDir, this.name, version);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, BUNDLE_FILE), bundle.code);
    writeFileSync(join(dir, MAP_FILE), bundle.map);
    this.built = { version, bundlePath: join(dir, BUNDLE_FILE) };
    return this.built;
  }
}

class DeploySource implements VersionSource {
  readonly kind = 'deploy';
  constructor(private readonly store: DeployStore, private readonly name: string) {}
  async current(): Promise<VersionSpec | undefined> {
    const v = await this.store.current(this.name);
    return v && { version: v.version, bundlePath: v.bundlePath };
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
  private pollTimer: NodeJS.Timeout | undefined;
  private polling: Promise<void> | undefined;
  private closed = false;
  private readonly sink: LocalDirSink | undefined;
  private readonly filesByRoot = new Map<string, LocalDirSource>();

  private constructor(private readonly opts: RuntimeOptions) {
    const c = opts.config;
    this.store = c.deployDir ? new DeployStore(c.deployDir) : undefined;
    // Folders of gateways that died without cleaning up (SIGKILL, a crash) go first.
    const swept = sweepStaleTempDirs();
    if (swept.length > 0) opts.log.info({ event: 'tempSwept', folders: swept.length }, `removed ${swept.length} temp folders left by dead gateways`);
    this.buildDir = makeTempDir();
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
      const slot = this.addSlot(name, { kind: 'in-process', current: async () => ({ version: 'in-process', bundlePath: '' }) }, settings, async () =>
        new InProcessInvoker(handle, { name, timeoutMs: settings.timeoutMs, vars: settings.vars, secrets: settings.secrets, kv: this.opts.kv && functionKv(this.opts.kv, name) }, this.opts.log),
      );
      await slot.reload();
    }
    for (const [name, settings] of Object.entries(config.functions)) {
      if (!settings.entry || this.slots.has(name)) continue;
      const slot = this.addSlot(name, new EntrySource(name, resolve(settings.entry), this.buildDir), settings);
      await slot.reload();
      // An entry given in the config is the operator's promise that it works: fail loudly.
      if (!slot.current) throw new Error(`function "${name}" (${settings.entry}) failed to load: ${slot.lastError ?? 'see the log'}`);
    }
    if (this.store) {
      await this.poll();
      this.pollTimer = setInterval(() => void this.poll(), config.reloadPollMs);
      this.pollTimer.unref();
    }
  }

  private addSlot(name: string, source: VersionSource, settings: FunctionConfig, load?: (spec: VersionSpec) => Promise<Invoker>): FunctionSlot {
    const c = this.opts.config;
    const loader =
      load ??
      (async (spec: VersionSpec) => {
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
            log: { linesPerInvocation: settings.logLinesPerInvocation, bytesPerInvocation: settings.logBytesPerInvocation, linesPerSecond: settings.logLinesPerSecond },
          },
          this.opts.log,
        );
        await pool.start();
        return pool;
      });
    const slot = new FunctionSlot(name, source, loader, this.opts.log, this.opts.onReload, this.files(settings.root ?? c.root), this.sink, c.readAheadBytes, this.opts.objects);
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
    if (!this.store || this.closed) return Promise.resolve();
    this.polling ??= (async () => {
      try {
        const names = await this.store!.functions();
        for (const name of names) {
          if (this.slots.has(name)) continue;
          const settings = this.opts.config.functions[name] ?? DEFAULT_SETTINGS;
          this.addSlot(name, new DeploySource(this.store!, name), settings);
        }
        await Promise.all([...this.slots.values()].filter((s) => s.source.kind === 'deploy').map((s) => s.reload()));
      } catch (e) {
        this.opts.log.error({ event: 'deployPollError', err: e }, 'cannot read the deploy folder');
      } finally {
        this.polling = undefined;
      }
    })();
    return this.polling;
  }

  /** Rebuilds an entry function from its source and swaps it in (tftpfn dev). */
  async rebuild(name: string): Promise<void> {
    const slot = this.slots.get(name);
    if (!slot || !(slot.source instanceof EntrySource)) throw new Error(`"${name}" is not a function built from an entry file`);
    slot.source.invalidate();
    await slot.reload();
  }

  /** Why the last load of a function failed, or undefined when it succeeded. */
  lastError(name: string): string | undefined {
    return this.slots.get(name)?.lastError;
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
      const inv = slot.current?.invoker;
      return {
        name,
        source: slot.source.kind,
        version: slot.current?.version,
        workers: inv instanceof WorkerPool ? inv.size : 0,
        inflight: inv?.inflight ?? 0,
        draining: slot.draining.size,
        totals: [...slot.draining].reduce((t, g) => addTotals(t, g.invoker), addTotals({ ...slot.retiredTotals }, inv)),
      };
    });
  }

  /** Stops watching for deploys and shuts every pool, waiting up to graceMs for transfers. */
  async close(graceMs = 0): Promise<void> {
    this.closed = true;
    if (this.pollTimer) clearInterval(this.pollTimer);
    await this.polling;
    await Promise.all([...this.slots.values()].map((s) => s.close(graceMs)));
    removeTempDir(this.buildDir);
  }
}
