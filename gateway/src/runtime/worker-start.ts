/**
 * How one of a pool's workers gets going, apart from keeping it alive (worker-supervisor.ts):
 * the pool's sandbox folder, prepared once, and for each worker its boot message, its
 * environment and its start: a warm spare adopted (warm-spare.ts), else a sandboxed child
 * process (isolation 'process', the default), else a worker thread (isolation 'thread', for
 * trusted code only).
 *
 * The gateway's environment (cloud credentials, tokens) is not passed on: a worker gets vars and
 * secrets, and a process.env with only locale and time zone.
 */
import type { Logger } from 'pino';
import { DEFAULT_LOG_LIMITS, type PoolSpec } from './pool-spec.js';
import { startProcessWorker } from './sandbox-process.js';
import { copyBundleInto, prepareSandboxDir, probeNetwork, probeNodeDataKb, sandboxCommand, sandboxUser, type NetworkIsolation, type SandboxUser } from './sandbox-spawn.js';
import type { SpareShape } from './warm-spare.js';
import { startThreadWorker, type WorkerEvents, type WorkerHandle } from './worker-handle.js';
import type { WorkerBoot } from './worker-protocol.js';

/** The folder a process pool's workers run in, with its copy of the bundle, and how they are fenced. */
export interface PoolSandbox {
  readonly dir: string;
  readonly bundlePath: string;
  readonly user: SandboxUser | undefined;
  readonly network: NetworkIsolation;
  readonly unsharePath?: string;
}

/** Prepares a process pool's sandbox folder (rejects if it cannot) and logs how it is fenced. */
export async function prepareSandbox(spec: PoolSpec, memoryMb: number, log: Logger): Promise<PoolSandbox> {
  const user = sandboxUser({ uid: spec.uid, gid: spec.gid });
  const { dir, bundlePath } = await prepareSandboxDir(spec.bundlePath, user);
  const net = probeNetwork();
  // No namespace is worth a warning: the network is then refused by JavaScript alone.
  log[net.network === 'lockdown-only' ? 'warn' : 'debug'](
    { event: 'sandbox', uid: user?.uid ?? process.getuid?.(), network: net.network, memoryMb, heapMb: spec.heapMb },
    net.network === 'lockdown-only' ? 'function sandbox without a network namespace (unshare unavailable): network disarmed in JavaScript only' : 'function sandbox',
  );
  return { dir, bundlePath, user, ...net };
}

/** A started worker, and the folder of its own to remove once it exits (an adopted spare's). */
export interface StartedWorker {
  readonly worker: WorkerHandle;
  readonly ownDir: string | undefined;
}

/**
 * Starts one worker of `spec` and hands its messages and exit to `events`: with a sandbox, the
 * warm spare when one of the same shape is ready, else a fresh sandboxed process; without, a
 * worker thread.
 */
export function startWorker(spec: PoolSpec, sandbox: PoolSandbox | undefined, memoryMb: number, events: WorkerEvents, log: Logger): StartedWorker {
  const limits = spec.log ?? DEFAULT_LOG_LIMITS;
  const boot: WorkerBoot = {
    name: spec.name,
    version: spec.version,
    bundlePath: sandbox?.bundlePath ?? spec.bundlePath,
    vars: spec.vars,
    secrets: spec.secrets,
    log: { linesPerInvocation: limits.linesPerInvocation, bytesPerInvocation: limits.bytesPerInvocation, linesPerSecond: limits.linesPerSecond },
    captureConsole: (spec.isolation ?? 'process') === 'process',
  };
  // The gateway's environment (cloud credentials, tokens) is not the function's business:
  // it gets vars and secrets, and a process.env with only locale and time zone.
  const env = pickEnv(['TZ', 'LANG', 'LC_ALL', 'NODE_ENV']);
  // The same shape for a dedicated process and a warm spare: equal flags, limits, user, env.
  const shape: SpareShape | undefined = sandbox && {
    command: { heapMb: spec.heapMb, memoryMb, user: sandbox.user, network: sandbox.network, unsharePath: sandbox.unsharePath, allowRead: spec.allowRead, nodeDataKb: probeNodeDataKb() },
    env,
  };
  let spare = shape && spec.spare?.take(shape);
  let spareBundlePath: string | undefined;
  try {
    // A warm spare already runs on its own sandbox folder: the bundle joins the host module there.
    if (spare) spareBundlePath = copyBundleInto(spare.dir, spec.bundlePath);
  } catch (e) {
    log.warn({ event: 'warmSpareSkipped', err: e }, 'cannot copy the bundle into the warm spare; starting a fresh process');
    spare?.worker.terminate();
    spare = undefined;
  }
  if (spare && spareBundlePath) {
    spare.bind(events);
    spare.worker.boot({ ...boot, bundlePath: spareBundlePath });
    return { worker: spare.worker, ownDir: spare.dir };
  }
  if (sandbox && shape) {
    return { worker: startProcessWorker({ command: sandboxCommand({ ...shape.command, sandboxDir: sandbox.dir }), boot, env, cwd: sandbox.dir }, events), ownDir: undefined };
  }
  return { worker: startThreadWorker({ boot, heapMb: spec.heapMb, env, name: `tftpfn:${spec.name}@${spec.version}` }, events), ownDir: undefined };
}

function pickEnv(names: string[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const n of names) if (process.env[n] !== undefined) env[n] = process.env[n]!;
  return env;
}
