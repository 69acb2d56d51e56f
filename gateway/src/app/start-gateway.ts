/**
 * startGateway: the wiring. Parses the config once, then starts the parts in dependency order,
 * registering each one's closer on one DisposerStack (app/disposer-stack.ts) the moment it holds
 * anything. close() and a failed start run the same teardown: the closers once, newest first.
 *
 * Start-up order, and so (reversed) the teardown order:
 *   1. object store and key-value store (Redis)     closed last: functions and routes use them
 *   2. control plane (deploy folder, or Redis + the bucket), then the function runtime (worker
 *      pools; deployed versions loaded before ready)  after the gateway: sessions in flight call it
 *   3. Redis stats sink                             after the gateway: the last records are pushed
 *   4. metrics and the /metrics, /readyz server     after the gateway: /readyz says "shutting down"
 *                                                   while sessions drain, and scrapes still work
 *   5. the gateway's listeners                      stopped first: no new session, then drain
 *   6. the server-stats timer, then readiness       teardown begins by reporting not ready
 */
import type { Logger } from 'pino';
import type { Handler } from '../../../sdk/contract.js';
import { ConfigError, parseConfig } from '../config/load.js';
import type { GatewayConfig, GatewayConfigInput } from '../config/schema.js';
import { createLogger } from '../logging.js';
import type { Endpoint, RequestHandler } from '../handlers/request.js';
import { checkFunctionReferences, controlPlaneKind, requireWritableFolder } from '../config/checks.js';
import type { ControlPlane } from '../control/control-plane.js';
import type { FunctionRuntime, ReloadEvent } from '../runtime/function-runtime.js';
import { createObjectSetup, type ObjectSetup } from '../objects/object-setup.js';
import type { MetricsServer, Readiness } from '../stats/http-server.js';
import type { GatewayMetrics } from '../stats/metrics.js';
import type { RedisStatsSink } from '../stats/redis-sink.js';
import type { SessionRecord } from '../stats/session-record.js';
import { serverStatsSnapshot, type ServerStats } from '../stats/server-stats.js';
import { DisposerStack } from './disposer-stack.js';
import { Gateway } from './gateway.js';
import { GatewayReadiness, routedFunctions } from './readiness.js';
import { buildRequestHandler } from './request-handler.js';
import { startServerStatsHook } from './server-stats-hook.js';

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
  /**
   * Where deployed versions come from (issue 12), given by the caller (tests, embedders), who
   * closes it; without it, the control plane the config names.
   */
  controlPlane?: ControlPlane;
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
  /** Graceful stop: sessions in flight get up to graceMs to finish. Once; later calls wait for it. */
  close(graceMs?: number): Promise<void>;
}

export async function startGateway(opts: StartOptions = {}): Promise<RunningGateway> {
  // Passed as given, not copied: a config loadConfig already parsed (serve) is not parsed again.
  const config = parseConfig((opts.config ?? {}) as Record<string, unknown>);
  const logger = opts.logger ?? createLogger(config.logLevel);
  const inProcess = Object.keys(opts.functions ?? {});
  checkFunctionReferences(config, inProcess, opts.controlPlane !== undefined);
  // Folders the gateway writes must be usable before anything starts (the field is named).
  if (config.deployDir) requireWritableFolder('deployDir', config.deployDir);
  if (config.controlCacheDir && (opts.controlPlane || controlPlaneKind(config))) requireWritableFolder('controlCacheDir', config.controlCacheDir);

  const stack = new DisposerStack();
  try {
    return await startParts(opts, config, logger, inProcess, stack);
  } catch (e) {
    // Close what had started; the start error is the one the caller needs to see.
    await stack.dispose(0).catch((err: unknown) => logger.error({ event: 'startCleanupFailed', err }, 'closing a half-started gateway failed'));
    throw e;
  }
}

async function startParts(opts: StartOptions, config: GatewayConfig, logger: Logger, inProcess: string[], stack: DisposerStack): Promise<RunningGateway> {
  // Imported only when metrics are on (issue 13, docs/PERFORMANCE.md "Idle memory"): prom-client
  // costs about 11 MiB of RSS that a gateway without metricsPort never uses. Loaded first, so
  // no reload event can fall between the runtime's start and the metrics' creation.
  const metricsModules =
    config.metricsPort !== undefined ? await Promise.all([import('../stats/metrics.js'), import('../stats/http-server.js')]) : undefined;
  const setup = opts.handler ? undefined : createObjectSetup(config, logger);
  if (setup) stack.defer('objects', () => setup.close());
  await setup?.connected;

  // Bound once the metrics exist; the runtime's hooks read it late.
  let metrics: GatewayMetrics | undefined;
  let runtime: FunctionRuntime | undefined;
  const kind = controlPlaneKind(config);
  const wantsFunctions = inProcess.length > 0 || Object.keys(config.functions).length > 0 || kind !== undefined || opts.controlPlane !== undefined;
  if (!opts.handler && wantsFunctions) {
    // Imported only for a gateway that runs functions: a folder or bucket server never loads
    // the runtime, the sandbox or the control plane (about 4 MiB of RSS idle; issue 13,
    // docs/PERFORMANCE.md "Idle memory without zod").
    const [{ FunctionRuntime }, { loadSecretsKey }, { openControlPlane }] = await Promise.all([
      import('../runtime/function-runtime.js'),
      import('../control/secret-box.js'),
      import('../control/open.js'),
    ]);
    let secretsKey: Buffer | undefined;
    try {
      secretsKey = loadSecretsKey({ key: config.secretsKey, file: config.secretsKeyFile });
    } catch (e) {
      // secret-box.ts says "FIELD: problem"; the config's errors say field "FIELD": problem.
      const m = /^(secretsKeyFile|secretsKey): ([\s\S]*)$/.exec((e as Error).message);
      throw new ConfigError(`invalid configuration:\n  - ${m ? `field "${m[1]}": ${m[2]}` : (e as Error).message}`);
    }
    let controlPlane = opts.controlPlane;
    if (!controlPlane && kind) {
      // The deploy folder keeps its check period (reloadPollMs); Redis announces on pub/sub.
      // (The fleet source logs an outage and the return, once each: no Redis events needed here.)
      const opened = await openControlPlane(config, { pollMs: config.reloadPollMs });
      controlPlane = opened;
      // Closed after the runtime (the stack runs newest first): its last acks still go out.
      stack.defer('controlPlane', () => opened.close());
    }
    const rt = await FunctionRuntime.start({
      controlPlane,
      secretsKey,
      gatewayId: config.gatewayId,
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
    runtime = rt;
    stack.defer('functions', (graceMs) => rt.close(graceMs));
  }

  const handler = buildRequestHandler({ config, handler: opts.handler, runtime, objects: setup?.objects, inProcess, log: logger });
  let sink: RedisStatsSink | undefined;
  // No hook where nothing takes records (no metrics, no Redis stats, no user hook): the bus then
  // builds a session's record only for its log line (issue 13, docs/PERFORMANCE.md "A cached
  // file starts in the tick of its request").
  const statsRedisUrl = config.statsToRedis ? config.redisUrl : undefined;
  const recordsTaken = config.metricsPort !== undefined || statsRedisUrl !== undefined || opts.onSession !== undefined;
  const gateway = new Gateway(config, handler, logger, {
    // Metrics and the Redis sink first: a user hook that throws must not cost them the record.
    onSession: recordsTaken
      ? (record) => {
          metrics?.observeSession(record);
          sink?.push(record);
          opts.onSession?.(record);
        }
      : undefined,
  });
  if (statsRedisUrl !== undefined) {
    const { RedisStatsSink } = await import('../stats/redis-sink.js');
    const s = new RedisStatsSink({
      url: statsRedisUrl,
      gatewayId: gateway.id,
      streamKey: config.statsStreamKey,
      maxLen: config.statsStreamMaxLen,
      counterTtlSeconds: config.statsCounterTtlSeconds,
      bufferMax: config.statsBufferMax,
      flushMs: config.statsFlushMs,
      logger,
    });
    sink = s;
    stack.defer('statsSink', () => s.close());
  }

  const stats = (): ServerStats =>
    serverStatsSnapshot({ counters: gateway.counters, functions: runtime, objects: setup?.objects, kv: setup?.kv, statsSink: sink });
  const readiness = new GatewayReadiness(
    () => runtime?.status() ?? [],
    opts.handler ? [] : routedFunctions(config.routes, config.defaultRoute),
    () => runtime?.degraded(),
  );

  let metricsServer: MetricsServer | undefined;
  if (metricsModules && config.metricsPort !== undefined) {
    const [{ GatewayMetrics }, { startMetricsServer }] = metricsModules;
    const m = new GatewayMetrics({ gateway: gateway.id, stats });
    metrics = m;
    stack.defer('metrics', () => m.close());
    try {
      metricsServer = await startMetricsServer({ host: config.metricsHost, port: config.metricsPort, metrics: m, ready: readiness.check, logger });
    } catch (e) {
      throw new ConfigError(`field "metricsPort": cannot listen on ${config.metricsHost}:${config.metricsPort}: ${(e as Error).message}`);
    }
    const server = metricsServer;
    stack.defer('metricsServer', () => server.close());
  }

  // Before start(): a start that binds one address and fails on the next closes the first.
  stack.defer('listeners', (graceMs) => gateway.stop(graceMs));
  const addresses = await gateway.start();
  readiness.listenersBound();

  if (opts.onServerStats) {
    const stopHook = startServerStatsHook(opts.onServerStats, opts.serverStatsIntervalMs ?? config.serverStatsIntervalMs, stats, logger);
    stack.defer('serverStatsHook', stopHook);
  }
  stack.defer('readiness', () => readiness.shuttingDown());

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
    ready: readiness.check,
    close: (graceMs = config.shutdownGraceMs) => stack.dispose(graceMs),
  };
}
