/**
 * tftpfn's public API for embedding and tests: startGateway (config-driven, as `tftpfn
 * serve` runs it) and createGateway (a handle function and config fields in one object, as
 * fbtftp's BaseServer is embedded).
 */
import type { Logger } from 'pino';
import type { Handler } from '../../sdk/contract.js';
import { ConfigError, parseConfig } from './config/load.js';
import type { GatewayConfig, GatewayConfigInput } from './config/schema.js';
import { createLogger } from './logging.js';
import type { Endpoint, RequestHandler } from './request/request.js';
import { buildRouterFromConfig } from './routing/router-handler.js';
import { checkFunctionReferences } from './runtime/function-references.js';
import { FunctionRuntime, type FunctionStatus, type ReloadEvent } from './runtime/function-runtime.js';
import { folderHandler } from './sources/folder-handler.js';
import { bucketHandler } from './sources/bucket-handler.js';
import { createObjectSetup, type ObjectSetup } from './sources/object-setup.js';
import type { ObjectSourceStats } from './sources/object-source.js';
import type { KvStats } from './cache/kv.js';
import type { ServerCounters } from './stats/counters.js';
import type { SessionRecord } from './stats/session-record.js';
import { Gateway } from './transport/gateway.js';
import { GatewayMetrics } from './stats/metrics.js';
import { startMetricsServer, type MetricsServer, type Readiness } from './stats/http-server.js';
import { RedisStatsSink, type RedisStatsSinkStats } from './stats/redis-sink.js';

/** What the periodic server-stats callback gets: the counters and each function's state. */
export interface ServerStats {
  readonly at: string;
  readonly counters: ServerCounters;
  readonly functions: FunctionStatus[];
  /** Objects from buckets: cache hits and misses, bytes from the cache and from the bucket. */
  readonly objects: (ObjectSourceStats & { store: string; memoryHeldBytes: number }) | undefined;
  /** The shared key-value store (Redis or memory): availability and call outcomes. */
  readonly kv: (KvStats & { kind: string; available: boolean }) | undefined;
  /** Session records shipped to Redis: pushed, flushed, dropped, buffered (with redisUrl). */
  readonly statsSink: RedisStatsSinkStats | undefined;
}

export interface StartOptions {
  /** Configuration fields (validated; errors name the field). */
  config?: GatewayConfigInput;
  /** Serves every request itself, bypassing routes and functions. */
  handler?: RequestHandler;
  /** Functions run on the gateway's thread, by name; routes refer to them like any other. */
  functions?: Record<string, Handler>;
  logger?: Logger;
  /** Called once per finished session (fbtftp's session-stats callback). */
  onSession?: (record: SessionRecord) => void;
  /** Called every `serverStatsIntervalMs` (fbtftp's server-stats callback). */
  onServerStats?: (stats: ServerStats) => void;
  /** Default 60000. */
  serverStatsIntervalMs?: number;
  /** Called when a function version is loaded, or rejected. */
  onReload?: (event: ReloadEvent) => void;
}

export interface RunningGateway {
  readonly gateway: Gateway;
  readonly config: GatewayConfig;
  /** The function runtime, when any function is configured, deployed or given in process. */
  readonly functions: FunctionRuntime | undefined;
  /** The object source and key-value store (undefined with a custom handler). */
  readonly objects: ObjectSetup | undefined;
  /** Every bound listening address. */
  readonly addresses: Endpoint[];
  /** The listening port (the real one when port 0 was asked). */
  readonly port: number;
  /** The server stats right now (what onServerStats is given). */
  stats(): ServerStats;
  /** Prometheus metrics, when metricsPort is set; and the port /metrics is served on. */
  readonly metrics: GatewayMetrics | undefined;
  readonly metricsPort: number | undefined;
  /** What /readyz answers: listeners bound, every function loaded, not shutting down. */
  ready(): Readiness;
  /** Graceful stop: sessions in flight get up to graceMs to finish. */
  close(graceMs?: number): Promise<void>;
}

export async function startGateway(opts: StartOptions = {}): Promise<RunningGateway> {
  const config = parseConfig({ ...(opts.config ?? {}) } as Record<string, unknown>);
  const logger = opts.logger ?? createLogger(config.logLevel);
  const inProcess = Object.keys(opts.functions ?? {});
  checkFunctionReferences(config, inProcess);

  const folderOptions = {
    readAheadBytes: config.readAheadBytes,
    fileCacheTtlMs: config.fileCacheTtlMs,
    fileCacheMaxFileBytes: config.fileCacheMaxFileBytes,
    fileCacheMaxBytes: config.fileCacheMaxBytes,
  };
  const rootHandler = () => folderHandler({ root: config.root, writeRoot: config.writeRoot, allowOverwrite: config.allowOverwrite, ...folderOptions });

  const setup: ObjectSetup | undefined = opts.handler ? undefined : createObjectSetup(config, logger);
  await setup?.connected;
  // Bound once the gateway exists; hooks registered before that read it late.
  let metrics: GatewayMetrics | undefined;
  let runtime: FunctionRuntime | undefined;
  const wantsFunctions = inProcess.length > 0 || Object.keys(config.functions).length > 0 || config.deployDir !== undefined;
  if (!opts.handler && wantsFunctions) {
    try {
      runtime = await FunctionRuntime.start({
        config,
        log: logger,
        inProcess: opts.functions,
        onReload: (e) => {
          metrics?.observeReload(e);
          opts.onReload?.(e);
        },
        onInvocation: (fn, seconds, outcome) => metrics?.observeInvocation(fn, seconds, outcome),
        kv: setup?.kv,
        objects: setup?.objects,
      });
    } catch (e) {
      await setup?.close();
      throw e;
    }
  }

  let handler = opts.handler;
  if (!handler) {
    const folders = new Map<string, RequestHandler>();
    const rt = runtime;
    const objects = setup?.objects;
    handler = buildRouterFromConfig(config, {
      rootHandler,
      functionHandler: (name) => rt?.handler(name),
      bucketHandler: objects && ((bucket, prefix) => bucketHandler(objects, bucket, prefix)),
      folderHandler: (folder) => {
        let h = folders.get(folder);
        if (!h) folders.set(folder, (h = folderHandler({ root: folder, ...folderOptions })));
        return h;
      },
    });
  }
  // No routing configured: one function given in process serves everything; else the root folder.
  handler ??= inProcess.length === 1 && runtime ? runtime.handler(inProcess[0])! : rootHandler();

  let sink: RedisStatsSink | undefined;
  const gateway = new Gateway(config, handler, logger, {
    // Metrics and the Redis sink first: a user hook that throws must not cost them the record.
    onSession: (record) => {
      metrics?.observeSession(record);
      sink?.push(record);
      opts.onSession?.(record);
    },
  });
  if (config.redisUrl && config.statsToRedis) {
    sink = new RedisStatsSink({
      url: config.redisUrl,
      gatewayId: gateway.id,
      streamKey: config.statsStreamKey,
      maxLen: config.statsStreamMaxLen,
      counterTtlSeconds: config.statsCounterTtlSeconds,
      bufferMax: config.statsBufferMax,
      flushMs: config.statsFlushMs,
      logger,
    });
  }
  let addresses: Endpoint[];
  try {
    addresses = await gateway.start();
  } catch (e) {
    await sink?.close();
    await runtime?.close();
    await setup?.close();
    throw e;
  }
  let closing = false;
  const stats = (): ServerStats => {
    const objects = setup?.objects;
    const kv = setup?.kv;
    return {
      at: new Date().toISOString(),
      counters: { ...gateway.counters, sessionsByOutcome: { ...gateway.counters.sessionsByOutcome } },
      functions: runtime?.status() ?? [],
      objects: objects && { ...objects.stats, store: objects.store.kind, memoryHeldBytes: objects.memoryHeld },
      kv: kv && { ...kv.stats, kind: kv.kind, available: kv.available },
      statsSink: sink && { ...sink.stats },
    };
  };
  const ready = (): Readiness => {
    const reasons: string[] = [];
    if (closing) reasons.push('shutting down');
    for (const f of runtime?.status() ?? []) if (f.version === undefined) reasons.push(`function ${f.name} has no version loaded`);
    return { ready: reasons.length === 0, reasons };
  };
  let metricsServer: MetricsServer | undefined;
  if (config.metricsPort !== undefined) {
    metrics = new GatewayMetrics({ gateway: gateway.id, stats });
    try {
      metricsServer = await startMetricsServer({ host: config.metricsHost, port: config.metricsPort, metrics, ready, logger });
    } catch (e) {
      await gateway.stop(0);
      await sink?.close();
      await runtime?.close();
      await setup?.close();
      throw new ConfigError(`field "metricsPort": cannot listen on ${config.metricsHost}:${config.metricsPort}: ${(e as Error).message}`);
    }
  }
  let statsTimer: NodeJS.Timeout | undefined;
  if (opts.onServerStats) {
    const hook = opts.onServerStats;
    statsTimer = setInterval(() => {
      try {
        hook(stats());
      } catch (e) {
        logger.error({ event: 'hookError', err: e }, 'server stats hook threw');
      }
    }, opts.serverStatsIntervalMs ?? config.serverStatsIntervalMs);
    statsTimer.unref();
  }
  return {
    gateway,
    config,
    functions: runtime,
    objects: setup,
    addresses,
    port: addresses[0].port,
    stats,
    metrics,
    metricsPort: metricsServer?.port,
    ready,
    close: async (graceMs = config.shutdownGraceMs) => {
      closing = true;
      if (statsTimer) clearInterval(statsTimer);
      await gateway.stop(graceMs);
      await runtime?.close(graceMs);
      // After the gateway: the last sessions' records are pushed before the sink flushes.
      await sink?.close();
      await setup?.close();
      await metricsServer?.close();
      metrics?.close();
    },
  };
}

/**
 * The embedding options: config fields, plus `handle` — a function run on the gateway's
 * thread, or the path of a function module bundled and run in worker threads (isolated,
 * with the limits in `functions.main`).
 */
export type CreateGatewayOptions = GatewayConfigInput & {
  handle?: Handler | string;
  logger?: Logger;
  onSession?: StartOptions['onSession'];
  onServerStats?: StartOptions['onServerStats'];
  serverStatsIntervalMs?: number;
  onReload?: StartOptions['onReload'];
};

/**
 * Runs a gateway inside any Node program.
 *
 * @example
 * ```ts
 * import { createGateway } from 'tftpfn';
 * import { text } from 'tftpfn/sdk';
 *
 * const gw = await createGateway({
 *   port: 6969,
 *   handle: (request) => text(`hello ${request.peer.address}\n`),
 *   onSession: (record) => console.log(record.file, record.outcome, record.bytes),
 * });
 * // later: await gw.close();
 * ```
 */
export function createGateway(opts: CreateGatewayOptions): Promise<RunningGateway> {
  const { handle, logger, onSession, onServerStats, serverStatsIntervalMs, onReload, ...config } = opts;
  const start: StartOptions = { config, logger, onSession, onServerStats, serverStatsIntervalMs, onReload };
  if (typeof handle === 'function') {
    start.functions = { main: handle };
  } else if (typeof handle === 'string') {
    const main = (config.functions as Record<string, object> | undefined)?.main ?? {};
    start.config = { ...config, functions: { ...(config.functions ?? {}), main: { ...main, entry: handle } } };
    if (!config.routes?.length && !config.defaultRoute) start.config.defaultRoute = { function: 'main' };
  }
  return startGateway(start);
}

export { Gateway } from './transport/gateway.js';
export { loadConfig, parseConfig, ConfigError } from './config/load.js';
export type { GatewayConfig, GatewayConfigInput, FunctionConfig } from './config/schema.js';
export { TftpError, ErrorCode } from './protocol/error-codes.js';
export { folderHandler } from './sources/folder-handler.js';
export { memoryReader } from './sources/memory.js';
export type { RequestHandler, TftpRequest, Endpoint, SessionTags } from './request/request.js';
export type { ByteReader, ByteWriter, OpenedRead } from './sources/types.js';
export type { SessionRecord } from './stats/session-record.js';
export type { ServerCounters } from './stats/counters.js';
export { FunctionRuntime, type FunctionStatus, type ReloadEvent } from './runtime/function-runtime.js';
export { bundleFunction, type BuiltBundle } from './runtime/bundle.js';
export { DeployStore, type DeployedVersion } from './runtime/deploy-store.js';
export type { Handler, FunctionRequest, FunctionEnv } from '../../sdk/contract.js';
