/**
 * How a sandboxed function process is started: the command line, the user, the folder it may
 * read. See sandbox-main.ts for what runs inside and docs/FUNCTIONS.md for the trust model.
 *
 * Layers, outermost first:
 *  - `unshare --net` (util-linux): an empty network namespace, so the kernel refuses every
 *    connection whatever the JavaScript does. As root it also switches to the sandbox user
 *    (`-S`/`-G`, supplementary groups dropped); as another user it needs unprivileged user
 *    namespaces (`--user --map-current-user`). Probed once; without it the process still runs,
 *    with the network disarmed in JavaScript only (lockdown.ts), and the pool says so in its log.
 *  - `/bin/sh -c 'ulimit -d KiB'`: RLIMIT_DATA caps the process's heap and anonymous memory
 *    (V8 heap, ArrayBuffers, Buffers, malloc) at memoryMb, so a function cannot hold 2 GiB of
 *    ArrayBuffers with heapMb 64. RLIMIT_AS would break V8 (it reserves address space far beyond
 *    what it uses); RLIMIT_DATA counts only writable private mappings, which is what grows.
 *  - node with the permission model: reads of the sandbox folder only, no writes, no child
 *    processes, no worker threads, no addons; `--max-old-space-size` for heapMb.
 *  - an environment with only TZ, LANG, LC_ALL and NODE_ENV.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { build } from './esbuild-lazy.js';
import { BUNDLE_FILE, MAP_FILE } from './bundle.js';
import { builtModule } from './package-root.js';
import { makeTempDir } from './temp-dirs.js';

export const HOST_FILE = 'host.mjs';

export interface SandboxUser {
  readonly uid: number;
  readonly gid: number;
}

/** How the network is taken away: a namespace (as root, or through a user namespace), or JavaScript only. */
export type NetworkIsolation = 'root-namespace' | 'user-namespace' | 'lockdown-only';

export interface SandboxCommandSpec {
  readonly sandboxDir: string;
  readonly heapMb: number;
  readonly memoryMb: number;
  readonly user: SandboxUser | undefined;
  readonly network: NetworkIsolation;
  readonly unsharePath?: string;
  /** Further paths it may read (functions.NAME.allowRead); a folder ends with '/'. */
  readonly allowRead?: readonly string[];
  /** KiB of writable mappings a bare node process of this binary holds before any code runs (probeNodeDataKb). */
  readonly nodeDataKb?: number;
}

/**
 * What memoryMb already counts for Node itself: a bare Node 20 or 22 process holds ~48 MiB of
 * writable mappings. Node 24 reserves ~560 MiB more that it never touches (RLIMIT_DATA counts
 * reservations), and would not even start under a 448 MiB limit; that surplus is added on top.
 */
const NODE_DATA_ALLOWANCE_KB = 64 * 1024;

/** RLIMIT_DATA for a sandbox, KiB: memoryMb plus what this Node binary reserves beyond the allowance. */
export function dataLimitKb(memoryMb: number, nodeDataKb = 0): number {
  return memoryMb * 1024 + Math.max(0, nodeDataKb - NODE_DATA_ALLOWANCE_KB);
}

export interface SandboxCommand {
  readonly file: string;
  readonly args: readonly string[];
  /** For spawn() when no namespace switches the user. */
  readonly uid?: number;
  readonly gid?: number;
}

/** Node 22.13+ and 23.5+ have the stable --permission; earlier versions the experimental flag. */
export function permissionFlag(nodeVersion: string): string {
  const [major, minor] = nodeVersion.replace(/^v/, '').split('.').map(Number);
  const stable = major > 23 || (major === 23 && minor >= 5) || (major === 22 && minor >= 13);
  return stable ? '--permission' : '--experimental-permission';
}

/** The argv of a sandboxed process. Pure: tests check it without spawning. */
export function sandboxCommand(spec: SandboxCommandSpec, nodeVersion = process.versions.node, execPath = process.execPath): SandboxCommand {
  const node = [
    execPath,
    permissionFlag(nodeVersion),
    `--allow-fs-read=${spec.sandboxDir}/`,
    ...(spec.allowRead ?? []).map((p) => `--allow-fs-read=${p}`),
    `--max-old-space-size=${spec.heapMb}`,
    // The permission model's "experimental" notice would be logged at every start.
    '--disable-warning=ExperimentalWarning',
    join(spec.sandboxDir, HOST_FILE),
  ];
  const limited = ['/bin/sh', '-c', 'ulimit -d "$0" && exec "$@"', String(dataLimitKb(spec.memoryMb, spec.nodeDataKb)), ...node];
  const unshare = spec.unsharePath ?? 'unshare';
  switch (spec.network) {
    case 'root-namespace': {
      const user = spec.user ? ['-S', String(spec.user.uid), '-G', String(spec.user.gid)] : [];
      return { file: unshare, args: ['--net', ...user, '--', ...limited] };
    }
    case 'user-namespace':
      return { file: unshare, args: ['--user', '--map-current-user', '--net', '--', ...limited] };
    case 'lockdown-only':
      return { file: limited[0], args: limited.slice(1), ...(spec.user ? { uid: spec.user.uid, gid: spec.user.gid } : {}) };
  }
}

/** The user a sandbox runs as: the configured one, else `nobody` when the gateway is root, else the gateway's own. */
export function sandboxUser(configured: { uid?: number; gid?: number }): SandboxUser | undefined {
  if (configured.uid !== undefined) return { uid: configured.uid, gid: configured.gid ?? configured.uid };
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return undefined;
  try {
    const line = readFileSync('/etc/passwd', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('nobody:'));
    const [, , uid, gid] = line?.split(':') ?? [];
    if (uid && gid) return { uid: Number(uid), gid: Number(gid) };
  } catch {
    /* no passwd file: use the conventional id */
  }
  return { uid: 65534, gid: 65534 };
}

let nodeDataKb: number | undefined;

/** VmData of a bare process of this node binary (KiB), probed once; 0 when it cannot be read. */
export function probeNodeDataKb(): number {
  if (nodeDataKb !== undefined) return nodeDataKb;
  const script = "process.stdout.write(/VmData:\\s+(\\d+)/.exec(require('fs').readFileSync('/proc/self/status','utf8'))?.[1] ?? '0')";
  const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 5000, env: {} });
  nodeDataKb = r.status === 0 && /^\d+$/.test(r.stdout) ? Number(r.stdout) : 0;
  return nodeDataKb;
}

let probed: { network: NetworkIsolation; unsharePath?: string } | undefined;

/** Whether `unshare` can give a process an empty network namespace here; probed once. */
export function probeNetwork(): { network: NetworkIsolation; unsharePath?: string } {
  if (probed) return probed;
  const unsharePath = ['/usr/bin/unshare', '/bin/unshare', '/usr/sbin/unshare'].find((p) => existsSync(p));
  probed = { network: 'lockdown-only' };
  if (!unsharePath) return probed;
  const root = typeof process.getuid === 'function' && process.getuid() === 0;
  const args = root ? ['--net', '--', '/bin/sh', '-c', 'exit 0'] : ['--user', '--map-current-user', '--net', '--', '/bin/sh', '-c', 'exit 0'];
  const r = spawnSync(unsharePath, args, { stdio: 'ignore', timeout: 5000, env: {} });
  if (r.status === 0) probed = { network: root ? 'root-namespace' : 'user-namespace', unsharePath };
  return probed;
}

/** The sandbox entries: the gateway's function host, and `tftpfn invoke`'s one-shot harness. */
export type SandboxEntry = 'gateway/src/runtime/sandbox-main' | 'gateway/src/runtime/sandbox-invoke-main';

const hostCode = new Map<SandboxEntry, Promise<string>>();

/** An entry bundled into one module (host, lockdown, SDK), built once per process. */
function hostBundle(entry: SandboxEntry): Promise<string> {
  let code = hostCode.get(entry);
  if (!code) {
    code = build({ entryPoints: [builtModule(entry)], bundle: true, format: 'esm', platform: 'node', target: 'node20', write: false, logLevel: 'silent' }).then((r) => r.outputFiles[0].text);
    hostCode.set(entry, code);
    code.catch(() => hostCode.delete(entry));
  }
  return code;
}

/**
 * A fresh folder holding everything a sandbox may read: the host module, the function's
 * bundle and its source map. Copies, so the process needs no access to the deploy folder or
 * the gateway's files, and readable by the sandbox user when it is another user.
 */
export async function prepareSandboxDir(bundlePath: string, user: SandboxUser | undefined, entry: SandboxEntry = 'gateway/src/runtime/sandbox-main'): Promise<{ dir: string; bundlePath: string }> {
  const dir = await prepareHostDir(user, entry);
  return { dir, bundlePath: copyBundleInto(dir, bundlePath) };
}

/**
 * A fresh sandbox folder with only the host module in it: what a warm spare (warm-spare.ts) is
 * started on, before any bundle is known. The same folder, mode and contents a dedicated
 * process gets, less the bundle, which copyBundleInto adds when the spare is adopted.
 */
export async function prepareHostDir(user: SandboxUser | undefined, entry: SandboxEntry = 'gateway/src/runtime/sandbox-main'): Promise<string> {
  const code = await hostBundle(entry);
  const dir = makeTempDir();
  writeFileSync(join(dir, HOST_FILE), code);
  // mkdtemp makes 0700; the sandbox user must read it (its name is random, the parent lists it).
  if (user) chmodSync(dir, 0o755);
  return dir;
}

/** Copies a bundle (and its source map, when there is one) into a sandbox folder; returns the copy's path. */
export function copyBundleInto(dir: string, bundlePath: string): string {
  copyFileSync(bundlePath, join(dir, BUNDLE_FILE));
  const map = join(dirname(bundlePath), MAP_FILE);
  if (existsSync(map)) copyFileSync(map, join(dir, MAP_FILE));
  return join(dir, BUNDLE_FILE);
}
