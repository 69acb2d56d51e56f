/**
 * How a function version becomes a worker pool, and what each loaded version brings besides:
 * its settings and secrets (a fleet version's manifest, version-settings.ts, over the config's),
 * the routes it declares and its upload settings, remembered by NAME@VERSION for the router
 * (FunctionRuntime.routeClaims) and the function handler (uploadsFor).
 */
import type { Logger } from 'pino';
import type { KvStore } from '../cache/kv.js';
import type { FunctionConfig, GatewayConfig } from '../config/schema.js';
import type { FunctionUploadOptions } from '../handlers/function.js';
import type { FunctionRouteClaim } from '../routing/function-routes.js';
import { functionKv } from './function-kv.js';
import type { InvocationObserver, Invoker } from './invoker.js';
import { versionSettings, writesRefused, type WritePolicy } from './version-settings.js';
import type { VersionSpec } from './version-sources.js';
import type { WarmSpare } from './warm-spare.js';
import { WorkerPool } from './worker-pool.js';

export interface VersionLoadOptions {
  readonly config: GatewayConfig;
  readonly log: Logger;
  /** Behind env.kv and cached(); absent: reads miss, writes are dropped. */
  readonly kv?: KvStore;
  /** Invocation latency and outcome, for metrics. */
  readonly onInvocation?: InvocationObserver;
}

/** functions.NAME.writes and its limits (a version's, after versionSettings) as the function handler takes them. */
export function uploadOptions(f: FunctionConfig, c: GatewayConfig): FunctionUploadOptions {
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

export class VersionLoads {
  /** Routes a loaded version declared, by NAME@VERSION (routeClaims() reads the serving ones). */
  private readonly declaredRoutes = new Map<string, FunctionRouteClaim['routes']>();
  /** Each loaded version's upload settings (its manifest's within the config's), by NAME@VERSION. */
  private readonly versionUploads = new Map<string, FunctionUploadOptions>();

  constructor(private readonly opts: VersionLoadOptions) {}

  /** Loads a version of `name` into a fresh pool, every worker ready; `spare` is adopted when it fits. */
  loader(name: string, configured: FunctionConfig, spare: WarmSpare | undefined): (spec: VersionSpec) => Promise<Invoker> {
    return async (spec: VersionSpec) => {
      const c = this.opts.config;
      const policy: WritePolicy = { allowManifestWrites: c.allowManifestWrites, maxUploadBytes: c.maxUploadBytes };
      const settings = versionSettings(configured, spec, policy);
      this.versionUploads.set(`${name}@${spec.version}`, uploadOptions(settings, c));
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
    };
  }

  /** The upload settings of a loaded version of `name`, else `fallback` (the config's). */
  uploadsFor(name: string, fallback: FunctionUploadOptions): (version: string) => FunctionUploadOptions {
    return (version) => this.versionUploads.get(`${name}@${version}`) ?? fallback;
  }

  /** The routes a loaded version of `name` declared, if any. */
  routes(name: string, version: string): FunctionRouteClaim['routes'] | undefined {
    return this.declaredRoutes.get(`${name}@${version}`);
  }
}
