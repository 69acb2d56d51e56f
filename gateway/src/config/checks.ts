/**
 * The config checks that are more than one field's type and range: fields that must agree with
 * each other, the route table, CIDR lists, function names and references, and the folders that
 * must exist at start. schema.ts keeps the types, ranges and defaults; it runs
 * `crossFieldIssues` as its last step, so every problem of a config is reported at once, each
 * naming its field and the fix. What checks the disk (`checkRoot`, `requireFolder`) runs once at
 * start-up, after parsing, since createGateway may be handed folders that appear later.
 *
 * This file is where the schema reaches into other floors (transport's CIDR parser, routing's
 * route table), so that schema.ts itself imports neither.
 */
import { accessSync, constants, mkdirSync, statSync } from 'node:fs';
import { parseCidr } from '../transport/cidr.js';
import { reusePortAvailable } from '../transport/bind.js';
import { parseRouteTable, RouteConfigError } from '../routing/routes.js';
import { ConfigError } from './config-error.js';

/** One problem: the field's path and the message (which says the fix). */
export interface ConfigIssue {
  readonly path: (string | number)[];
  readonly message: string;
}

/** A function's name: it names a deploy folder and appears in logs, stats and metric labels. */
export const FUNCTION_NAME = /^[a-z0-9][a-z0-9_-]{0,62}$/i;

/** Why an allow/deny/rateLimitExempt entry is not a CIDR, or undefined when it is one. */
export function cidrProblem(text: string): string | undefined {
  try {
    parseCidr(text);
    return undefined;
  } catch (e) {
    return (e as Error).message;
  }
}

/** The fields of a parsed config the cross-field checks read (schema.ts's output satisfies it). */
export interface CrossFieldInput {
  readonly singlePort: boolean;
  readonly processes: number;
  readonly portRange?: string;
  readonly routes: readonly unknown[];
  readonly defaultRoute?: unknown;
  readonly functions: Readonly<Record<string, unknown>>;
  readonly s3AccessKeyId?: string;
  readonly s3SecretAccessKey?: string;
  readonly controlPlane?: 'folder' | 'redis';
  readonly deployDir?: string;
  readonly redisUrl?: string;
  readonly objectStore?: string;
  readonly secretsKey?: string;
  readonly secretsKeyFile?: string;
}

/** The fields that choose the control plane. */
export interface ControlPlaneChoice {
  readonly controlPlane?: 'folder' | 'redis';
  readonly deployDir?: string;
  readonly redisUrl?: string;
  readonly objectStore?: string;
}

/**
 * The control plane a config uses (issue 12): the one it names; unset, the deploy folder when
 * deployDir is set (a config that had one keeps its behaviour), else Redis and the bucket when
 * redisUrl and objectStore "s3" are both set (a fleet's config already names them, so `tftpfn
 * deploy -c gateway.json` reaches the fleet with no extra field), else none.
 */
export function controlPlaneKind(c: ControlPlaneChoice): 'folder' | 'redis' | undefined {
  if (c.controlPlane) return c.controlPlane;
  if (c.deployDir) return 'folder';
  if (c.redisUrl && c.objectStore === 's3') return 'redis';
  return undefined;
}

/**
 * Fields that must agree with each other; the route table; function names. In the order reported.
 * `runtime.reusePort`: whether this Node has dgram reusePort (transport/bind.ts), which decides
 * whether single-port mode can run in several processes.
 */
export function crossFieldIssues(c: CrossFieldInput, runtime: { reusePort: boolean } = { reusePort: reusePortAvailable() }): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  // Single-port: a session's ACKs arrive on the listening port and must reach the process that
  // owns the session. SO_REUSEPORT (Node 22.12+) sends each client to one process; Node 20's
  // cluster shares one socket, from which any process may read any datagram.
  if (c.singlePort && c.processes > 1 && !runtime.reusePort) {
    issues.push({
      path: ['processes'],
      message: `single-port mode with several processes needs SO_REUSEPORT (dgram reusePort, Node 22.12+ on Linux), which Node ${process.versions.node} on ${process.platform} lacks: every packet of a session must reach one process. Run Node 22.12+ (or 24), use processes=1 with singlePort, or turn singlePort off`,
    });
  }
  if (c.routes.length > 0 || c.defaultRoute) issues.push(...routeIssues(c.routes, c.defaultRoute));
  for (const name of Object.keys(c.functions)) {
    if (!FUNCTION_NAME.test(name)) {
      issues.push({ path: ['functions', name], message: 'a function name is letters, digits, - and _ (at most 63), starting with a letter or digit, e.g. "grub"' });
    }
  }
  if ((c.s3AccessKeyId === undefined) !== (c.s3SecretAccessKey === undefined)) {
    issues.push({ path: ['s3SecretAccessKey'], message: 'give both s3AccessKeyId and s3SecretAccessKey, or neither (the standard AWS credential chain is used then)' });
  }
  if (c.singlePort && c.portRange) {
    issues.push({ path: ['portRange'], message: 'portRange has no effect in single-port mode: remove one of them' });
  }
  if (c.controlPlane === 'folder' && !c.deployDir) {
    issues.push({ path: ['controlPlane'], message: 'the "folder" control plane is the deploy folder: set deployDir, or use controlPlane "redis"' });
  }
  if (c.controlPlane === 'redis' && (!c.redisUrl || c.objectStore !== 's3')) {
    issues.push({ path: ['controlPlane'], message: 'the "redis" control plane keeps versions in Redis and bundles in the bucket: set redisUrl and objectStore "s3", or use controlPlane "folder" with deployDir' });
  }
  if (c.secretsKey !== undefined && c.secretsKeyFile !== undefined) {
    issues.push({ path: ['secretsKeyFile'], message: 'give secretsKey (TFTPFN_SECRETS_KEY) or secretsKeyFile, not both' });
  }
  return issues;
}

/** The route table's problems (routing/routes.ts compiles it), each under routes.N.FIELD or defaultRoute.FIELD. */
function routeIssues(routes: readonly unknown[], defaultRoute: unknown): ConfigIssue[] {
  try {
    parseRouteTable({ routes, default: defaultRoute });
    return [];
  } catch (e) {
    if (!(e instanceof RouteConfigError)) throw e;
    return e.problems.map((problem) => {
      const [where, ...why] = problem.split(': ');
      const path = where.startsWith('default') ? ['defaultRoute', ...where.slice('default'.length).split('.').filter(Boolean)] : where.replace(/^routes\[(\d+)\]/, 'routes.$1').split('.');
      return { path, message: why.join(': ') };
    });
  }
}

/** The fields function references are checked against. */
export interface FunctionReferenceInput extends ControlPlaneChoice {
  readonly functions: Readonly<Record<string, { readonly entry?: string }>>;
  readonly routes: readonly unknown[];
  readonly defaultRoute?: { readonly function?: string };
}

/**
 * Every function the config refers to can exist, once the names provided in process
 * (createGateway) are known: a function without entry needs a deploy folder or an in-process
 * handler; a route may name a function deployed later only when there is a deploy folder.
 */
export function checkFunctionReferences(config: FunctionReferenceInput, inProcess: readonly string[], givenControlPlane = false): void {
  const problems: string[] = [];
  // A control plane (the deploy folder, Redis and the bucket, or one the embedder gives) may deploy any function later.
  const deployable = givenControlPlane || controlPlaneKind(config) !== undefined;
  for (const [name, fn] of Object.entries(config.functions)) {
    if (!fn.entry && !deployable && !inProcess.includes(name)) {
      problems.push(`field "functions.${name}.entry": give the function's source file, or set "deployDir" where its versions are deployed`);
    }
  }
  if (!deployable) {
    const named: [string, unknown][] = config.routes.map((r, i) => [`routes.${i}.function`, (r as { function?: unknown } | null)?.function]);
    named.push(['defaultRoute.function', config.defaultRoute?.function]);
    for (const [where, name] of named) {
      if (typeof name === 'string' && !(name in config.functions) && !inProcess.includes(name)) {
        problems.push(`field "${where}": no function named "${name}": define it under "functions" or set "deployDir" where it is deployed`);
      }
    }
  }
  if (problems.length > 0) throw new ConfigError(`invalid configuration:\n  - ${problems.join('\n  - ')}`);
}

/** The served folder must exist and be readable, or every request would fail after "listening". */
export function checkRoot(root: string, from: string | undefined): void {
  const where = from ? ` (from ${from})` : '';
  let problem: string | undefined;
  try {
    if (!statSync(root).isDirectory()) problem = 'is not a directory';
    else accessSync(root, constants.R_OK | constants.X_OK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    problem = code === 'ENOENT' ? 'does not exist' : code === 'EACCES' || code === 'EPERM' ? 'cannot be read by this user' : `cannot be opened (${code ?? 'error'})`;
  }
  if (problem) {
    throw new ConfigError(`invalid configuration:\n  - field "root"${where}: ${root} ${problem}: give a readable folder, e.g. --root /srv/tftp`);
  }
}

/**
 * Each function's `root` (where its file() responses read) must be a folder at start, reported
 * by field name, all at once, rather than as the raw lstat error of the first one opened.
 */
export function checkFunctionRoots(functions: Readonly<Record<string, { readonly root?: string }>>, from: string | undefined): void {
  const where = from ? ` (from ${from})` : '';
  const problems: string[] = [];
  for (const [name, fn] of Object.entries(functions)) {
    if (fn.root === undefined) continue;
    let problem: string | undefined;
    try {
      if (!statSync(fn.root).isDirectory()) problem = 'is not a folder';
      else accessSync(fn.root, constants.R_OK | constants.X_OK);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      problem = code === 'ENOENT' ? 'does not exist' : code === 'EACCES' || code === 'EPERM' ? 'cannot be read by this user' : `cannot be opened (${code ?? 'error'})`;
    }
    if (problem) {
      problems.push(`field "functions.${name}.root"${where}: ${fn.root} ${problem}: create it, or point functions.${name}.root at the folder its file() responses read (a relative path in a config file is relative to the file's folder)`);
    }
  }
  if (problems.length > 0) throw new ConfigError(`invalid configuration:\n  - ${problems.join('\n  - ')}`);
}

/**
 * A folder the gateway writes to (deployDir, controlCacheDir): created when missing, and it must
 * then be a folder this user can read and write, or start fails naming the field.
 */
export function requireWritableFolder(field: string, dir: string): void {
  let problem: string | undefined;
  try {
    mkdirSync(dir, { recursive: true });
    if (!statSync(dir).isDirectory()) problem = 'is not a folder';
    else accessSync(dir, constants.R_OK | constants.W_OK | constants.X_OK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    problem =
      code === 'EEXIST' || code === 'ENOTDIR'
        ? 'is not a folder'
        : code === 'EACCES' || code === 'EPERM' || code === 'EROFS'
          ? 'cannot be created or written by this user'
          : `cannot be used (${code ?? (e as Error).message})`;
  }
  if (problem) throw new ConfigError(`invalid configuration:\n  - field "${field}": ${dir} ${problem}: point ${field} at a folder this user can write, or create it`);
}

/** A folder a field names (root, writeRoot, a folder route) must exist when the gateway starts serving it. */
export function requireFolder(field: string, dir: string): void {
  let isDir = false;
  try {
    isDir = statSync(dir).isDirectory();
  } catch {
    /* reported below */
  }
  if (!isDir) throw new ConfigError(`field "${field}": ${dir} is not a folder; create it or point ${field} at an existing folder`);
}
