/**
 * What a sandboxed function process takes away from user code before loading it, on top of
 * Node's permission model (which already refuses file reads outside the sandbox folder, all
 * file writes, child processes, worker threads, addons, WASI, the inspector and
 * process.binding).
 *
 * Node's permission model does not restrict the network on Node 20–24, so the network modules
 * are disarmed here: every function exported by node:net, node:tls, node:dgram, node:http(s),
 * node:http2, node:dns, node:child_process, node:cluster, node:worker_threads, node:inspector
 * node:wasi and node:trace_events throws, the socket classes cannot connect, listen or bind, and the fetch,
 * WebSocket and EventSource globals are gone. Disarming the module objects (rather than
 * refusing the import in a resolve hook) covers every way to reach them at once: static
 * import, dynamic import(), createRequire and process.getBuiltinModule all return the same
 * object, and module.syncBuiltinESMExports() carries the change into ESM named imports. A
 * library that imports node:http but never calls it still loads. Where the gateway can, it
 * also starts the process in an empty network namespace (sandbox-spawn.ts), which the kernel
 * enforces whatever JavaScript does.
 *
 * Signals: process.kill and process._kill only reach this process (a function may kill
 * itself, never the gateway or a sibling that runs as the same user), and
 * process._debugProcess (SIGUSR1: opens another process's inspector) is removed.
 */
import { createRequire, syncBuiltinESMExports } from 'node:module';

const require = createRequire(import.meta.url);

/** Builtins with no use to a function but a way out of the sandbox. */
export const DISARMED_MODULES = [
  'net',
  'tls',
  'dgram',
  'http',
  'https',
  'http2',
  'dns',
  'dns/promises',
  'child_process',
  'cluster',
  'worker_threads',
  'inspector',
  'inspector/promises',
  'wasi',
  'sqlite',
  // Writes node_trace.*.log into the working folder, past the permission model (measured).
  'trace_events',
] as const;

/** Exports of those modules that touch neither the network nor processes: they keep working. */
export const HARMLESS_EXPORTS: Readonly<Record<string, readonly string[]>> = {
  net: ['isIP', 'isIPv4', 'isIPv6', 'BlockList', 'SocketAddress', 'getDefaultAutoSelectFamily', 'getDefaultAutoSelectFamilyAttemptTimeout'],
  http: ['validateHeaderName', 'validateHeaderValue'],
  https: [],
  tls: ['checkServerIdentity', 'getCiphers', 'createSecureContext'],
  worker_threads: ['MessageChannel', 'MessagePort', 'BroadcastChannel', 'markAsUntransferable', 'isMarkedAsUntransferable', 'receiveMessageOnPort', 'getEnvironmentData'],
};

/** Globals that reach the network without a module import. */
export const REMOVED_GLOBALS = ['fetch', 'WebSocket', 'EventSource'] as const;

export class SandboxDenied extends Error {
  readonly code = 'ERR_TFTPFN_SANDBOX';
  constructor(what: string) {
    super(`${what} is not available to a function: it runs in a sandbox without network, child processes or signals to other processes (functions.NAME.isolation "process"; see docs/FUNCTIONS.md)`);
    this.name = 'SandboxDenied';
  }
}

/** A stand-in that throws SandboxDenied when called and when constructed (for classes). */
function deny(what: string): (...args: unknown[]) => never {
  return function denied(): never {
    throw new SandboxDenied(what);
  };
}

const disarmed = new WeakSet<object>();

function disarmPrototype(cls: unknown, methods: readonly string[], what: string): void {
  const proto = (cls as { prototype?: Record<string, unknown> } | undefined)?.prototype;
  if (!proto || disarmed.has(proto)) return;
  disarmed.add(proto);
  for (const m of methods) {
    if (typeof proto[m] !== 'function') continue;
    // Not configurable: user code cannot put the original back.
    Object.defineProperty(proto, m, { value: deny(`${what}.${m}()`), writable: false, configurable: false });
  }
}

function tryRequire(name: string): Record<string, unknown> | undefined {
  try {
    return require(`node:${name}`) as Record<string, unknown>;
  } catch {
    return undefined; // not in this Node version (node:sqlite before 22.5)
  }
}

/**
 * Disarms the process. `keepHandles` are handles the host opened before this (its channel to
 * the gateway, stdout and stderr): their class is disarmed for new connections only.
 */
export function lockdown(keepHandles: readonly unknown[]): void {
  const ownPid = process.pid;

  // Classes first, while the exports still hold them.
  const net = require('node:net') as typeof import('node:net');
  disarmPrototype(net.Socket, ['connect'], 'net.Socket');
  disarmPrototype(net.Server, ['listen'], 'net.Server');
  const dgram = require('node:dgram') as typeof import('node:dgram');
  disarmPrototype(dgram.Socket, ['bind', 'connect', 'send', 'addMembership', 'addSourceSpecificMembership'], 'dgram.Socket');
  // The raw handle class behind a pipe (reachable as someSocket._handle.constructor) could
  // connect to a Unix socket by path: disarm it through the handles we hold.
  for (const h of keepHandles) {
    const handle = (h as { _handle?: object } | undefined)?._handle;
    if (handle) disarmPrototype(handle.constructor, ['connect', 'bind', 'listen', 'open'], 'a raw socket handle');
  }

  // Load them all before changing any: tls, http and friends extend net's classes when they load.
  const modules = DISARMED_MODULES.map((name) => [name, tryRequire(name)] as const);
  for (const [name, mod] of modules) {
    if (!mod) continue;
    const keep = HARMLESS_EXPORTS[name] ?? [];
    for (const key of Object.keys(mod)) {
      const v = mod[key];
      if (typeof v !== 'function' || keep.includes(key)) continue;
      try {
        mod[key] = deny(`node:${name} ${key}`);
      } catch {
        /* a read-only export: its class is disarmed above, or it is harmless */
      }
    }
  }
  syncBuiltinESMExports();

  for (const g of REMOVED_GLOBALS) {
    try {
      Object.defineProperty(globalThis, g, { value: deny(g), writable: false, configurable: false });
    } catch {
      /* not defined in this Node version */
    }
  }

  // process.kill validates and calls process._kill, looked up at call time: wrap both, and let
  // the _kill wrapper call the real binding so the two do not recurse.
  const p = process as unknown as Record<string, unknown>;
  const realKill = process.kill;
  const rawKill = (p._kill as (pid: number, sig: number) => number).bind(process);
  const check = (pid: unknown) => {
    if (Number(pid) !== ownPid) throw new SandboxDenied(`process.kill(${Number(pid)})`);
  };
  const replace = (key: string, value: unknown) => {
    try {
      Object.defineProperty(process, key, { value, writable: false, configurable: false });
    } catch {
      p[key] = value;
    }
  };
  replace('_kill', (pid: number, sig: number) => {
    check(pid);
    return rawKill(pid, sig);
  });
  replace('kill', (pid: number, signal?: string | number) => {
    check(pid);
    return realKill.call(process, pid, signal);
  });
  replace('_debugProcess', deny('process._debugProcess()'));
  replace('_debugEnd', deny('process._debugEnd()'));
  replace('binding', deny('process.binding()'));
  replace('_linkedBinding', deny('process._linkedBinding()'));
  replace('dlopen', deny('process.dlopen()'));
  // The working folder stays the sandbox folder (not writable by the sandbox user).
  replace('chdir', deny('process.chdir()'));
  const os = require('node:os') as Record<string, unknown>;
  os.setPriority = deny('os.setPriority()');
  // V8 flags (--prof, --log-*) and heap snapshots write files.
  const v8 = require('node:v8') as Record<string, unknown>;
  for (const key of ['setFlagsFromString', 'writeHeapSnapshot', 'setHeapSnapshotNearHeapLimit']) v8[key] = deny(`node:v8 ${key}`);
  syncBuiltinESMExports();
}
