/**
 * `tftpfn serve`: runs the gateway. With no config file it serves --root on --host/--port;
 * a JSON config file, TFTPFN_* environment variables and flags cover the rest (flags win).
 * `--processes N` runs N gateway processes (cluster module). Where dgram has reusePort (Node
 * 22.12+ on Linux) each binds its own listening socket with SO_REUSEPORT, so the kernel sends
 * each client to one process; on Node 20 they share the primary's socket (transport/bind.ts
 * listenSharing), and single-port mode is refused there (config/checks.ts).
 */
import cluster from 'node:cluster';
import { Command, Option } from 'commander';
import { ConfigError, deriveConfig, loadConfig } from '../config/load.js';
import { DEFAULTS } from '../config/defaults.js';
import type { GatewayConfig } from '../config/schema.js';
import { startGateway } from '../app/start-gateway.js';
import { listenSharing, reserveListenPort } from '../transport/bind.js';
import { createLogger } from '../logging.js';

const collect = (v: string, prev: string[] | undefined) => [...(prev ?? []), ...v.split(',').filter(Boolean)];

export function serveCommand(): Command {
  return new Command('serve')
    .description('run the gateway: a folder by default; functions and routes from the config file')
    .option('-c, --config <file>', 'JSON config file (also TFTPFN_CONFIG)')
    .option('--host <addr>', `address to listen on, repeatable; 0.0.0.0 / :: mean every interface address (default ${DEFAULTS.hosts.join(' and ')})`, collect)
    .option('-p, --port <n>', `UDP port to listen on (default ${DEFAULTS.port})`)
    .option('-r, --root <dir>', 'folder to serve (required unless TFTPFN_ROOT or a config file gives one; --root . serves the working directory)')
    .option('--single-port', 'serve every session from the listening port (NAT, containers, Kubernetes)')
    .option('--port-range <low-high>', 'ports for per-session sockets, e.g. 50000-50999')
    .option('--max-block-size <n>', `largest blksize granted (512-65464, default ${DEFAULTS.maxBlockSize})`)
    .option('--max-window-size <n>', `largest windowsize granted (default ${DEFAULTS.maxWindowSize})`)
    .option('--refuse <options>', 'options never acknowledged, e.g. tsize,blksize', collect)
    .option('--timeout-ms <n>', `retransmit timeout in ms (default ${DEFAULTS.timeoutMs})`)
    .option('--retries <n>', `timeouts in a row before a session gives up (default ${DEFAULTS.retries})`)
    .option('--max-sessions <n>', `concurrent sessions (default ${DEFAULTS.maxSessions})`)
    .option('--max-sessions-per-client <n>', `concurrent sessions per client IP (default ${DEFAULTS.maxSessionsPerClient})`)
    .option('--allow <cidr>', 'only these client networks, repeatable', collect)
    .option('--deny <cidr>', 'never these client networks, repeatable', collect)
    .option('--metrics-port <n>', `serve Prometheus /metrics, /healthz and /readyz on this TCP port (metricsHost, default ${DEFAULTS.metricsHost})`)
    .option('--redis-url <url>', 'Redis for the shared cache, env.kv and session stats (redis://host:port, redis-sentinel://h1:p1,h2:p2/master or redis-cluster://h1:p1,h2:p2)')
    .option('--deploy-dir <dir>', 'deploy folder of function versions (tftpfn deploy), watched and hot-reloaded')
    .option('--write-root <dir>', 'accept uploads (WRQ) into this folder; off by default')
    .option('--allow-overwrite', 'let uploads replace existing files')
    .option('--log-level <level>', `fatal, error, warn, info, debug, trace or silent (default ${DEFAULTS.logLevel})`)
    .option('--shutdown-grace-ms <n>', `on SIGTERM, how long sessions in flight may take to finish (default ${DEFAULTS.shutdownGraceMs})`)
    .addOption(new Option('--processes <n>', `gateway processes on the listening port: each with its own SO_REUSEPORT socket on Node 22.12+, sharing one on Node 20 (default ${DEFAULTS.processes})`))
    .action(async (opts: Record<string, unknown>) => {
      const { config: configFile, host, ...rest } = opts;
      let config: GatewayConfig;
      const warnings: string[] = [];
      try {
        config = loadConfig({ configFile: configFile as string | undefined, flags: { ...rest, hosts: host }, onWarning: (w) => warnings.push(w), serve: true });
      } catch (e) {
        if (e instanceof ConfigError) {
          console.error(`tftpfn serve: ${e.message}`);
          process.exit(2);
        }
        throw e;
      }
      // Warnings once, from the primary (or the only process), on stderr and in the log.
      if (cluster.isPrimary) {
        const log = createLogger(config.logLevel, config.processes > 1 ? { role: 'primary' } : {});
        for (const w of warnings) {
          console.error(`tftpfn serve: warning: ${w}`);
          log.warn({ event: 'configWarning' }, w);
        }
      }
      if (config.processes > 1 && cluster.isPrimary) return runPrimary(config);
      await runGateway(config);
    });
}

/**
 * With --processes N, process k (0-based) serves metrics on metricsPort + k and names itself
 * GATEWAYID-k: N processes cannot share one HTTP port, and each has its own counters. With
 * SO_REUSEPORT and port 0 every process binds the port the primary picked.
 */
function perProcess(config: GatewayConfig): GatewayConfig {
  const slot = Number(process.env.TFTPFN_PROCESS_SLOT);
  if (!cluster.isWorker || !Number.isInteger(slot)) return config;
  const port = Number(process.env.TFTPFN_PROCESS_PORT);
  return deriveConfig(config, {
    metricsPort: config.metricsPort === undefined || config.metricsPort === 0 ? config.metricsPort : config.metricsPort + slot,
    gatewayId: config.gatewayId === undefined ? undefined : `${config.gatewayId}-${slot}`,
    port: Number.isInteger(port) && port > 0 ? port : config.port,
  });
}

async function runGateway(base: GatewayConfig): Promise<void> {
  const config = perProcess(base);
  const log = createLogger(config.logLevel, cluster.isWorker ? { worker: cluster.worker?.id } : {});
  // bin/tftpfn.js silences the AWS SDK's own warning about this; it is said here once, at debug.
  const nodeMajor = Number(process.versions.node.split('.')[0]);
  if (nodeMajor < 22) {
    log.debug({ event: 'nodeVersionSupport', node: process.versions.node }, 'the AWS SDK releases published after the first week of January 2027 need Node >= 22; Node 22 and 24 LTS are supported');
  }
  let running;
  try {
    running = await startGateway({ config, logger: log });
  } catch (e) {
    // One line for a person; the stack only at debug (a start-up failure is the operator's to
    // fix, not a crash to report).
    log.debug({ event: 'startFailed', err: e }, (e as Error).message);
    console.error(`tftpfn serve: ${(e as Error).message}`);
    process.exit(e instanceof ConfigError ? 2 : 1);
  }
  // Handlers go in before the 'listening' line: whoever treats that line as "ready" may send
  // SIGTERM at once, and without a handler the default action kills us mid-session.
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ event: 'shutdown', signal, sessions: running.gateway.activeSessions }, 'stopping: letting sessions in flight finish');
    await running.close(config.shutdownGraceMs);
    log.info({ event: 'stopped', counters: running.gateway.counters }, 'stopped');
    log.flush?.();
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
  // Operators ask for the effective settings at start-up.
  log.info(
    {
      event: 'listening',
      addresses: running.addresses.map((a) => `${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}`),
      root: config.root,
      singlePort: config.singlePort,
      portRange: config.portRange,
      maxBlockSize: config.maxBlockSize,
      maxWindowSize: config.maxWindowSize,
      refuse: config.refuse,
      timeoutMs: config.timeoutMs,
      retries: config.retries,
      sendPath: running.gateway.sendPath,
      listenSharing: listenSharing(config.processes),
      writes: config.writeRoot ? 'enabled' : 'disabled',
      functions: running.functions?.status().map((f) => `${f.name}@${f.version ?? 'unavailable'}`),
      gatewayId: running.gateway.id,
      metrics: running.metricsPort === undefined ? undefined : `${config.metricsHost}:${running.metricsPort}`,
      redis: config.redisUrl ? 'configured' : undefined,
      objectStore: config.objectStore,
      deployDir: config.deployDir,
      routes: config.routes.length,
    },
    'tftpfn gateway listening',
  );
}

async function runPrimary(config: GatewayConfig): Promise<void> {
  const log = createLogger(config.logLevel, { role: 'primary' });
  const sharing = listenSharing(config.processes);
  const env: Record<string, string> = {};
  if (sharing === 'reusePort') {
    // Nothing may hold the port already (SO_REUSEPORT would let us join another server's port),
    // and with port 0 every process must bind the same one.
    try {
      env.TFTPFN_PROCESS_PORT = String(await reserveListenPort(config.hosts, config.port));
    } catch (e) {
      console.error(`tftpfn serve: ${(e as Error).message}`);
      process.exit(1);
    }
  }
  log.info(
    { event: 'processes', processes: config.processes, listenSharing: sharing, singlePort: config.singlePort },
    sharing === 'reusePort'
      ? `${config.processes} gateway processes, each with its own listening socket (SO_REUSEPORT: the kernel sends each client to one process)`
      : `${config.processes} gateway processes sharing the primary's listening socket (Node ${process.versions.node} has no dgram reusePort; Node 22.12+ gives each process its own)`,
  );
  let stopping = false;
  // Each process keeps a slot number across restarts: it picks its metrics port and gateway id.
  const slots = new Map<number, number>();
  const fork = (slot: number) => slots.set(cluster.fork({ ...env, TFTPFN_PROCESS_SLOT: String(slot) }).id, slot);
  for (let i = 0; i < config.processes; i++) fork(i);
  cluster.on('exit', (worker, code, signal) => {
    const slot = slots.get(worker.id) ?? 0;
    slots.delete(worker.id);
    if (stopping) {
      if (Object.keys(cluster.workers ?? {}).length === 0) process.exit(0);
      return;
    }
    log.error({ event: 'workerExit', worker: worker.id, slot, code, signal }, 'gateway process exited; starting another');
    fork(slot);
  });
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    log.info({ event: 'shutdown', signal }, 'stopping gateway processes');
    for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGTERM');
    setTimeout(() => process.exit(0), config.shutdownGraceMs + 2000).unref();
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}
