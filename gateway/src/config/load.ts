/**
 * Builds the configuration from defaults < config file (JSON) < environment < flags.
 * The only module that reads process.env. Errors name the field, where it came from, and the fix.
 */
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import * as s from '../schema/index.js';
import { checkFunctionRoots, checkRoot } from './checks.js';
import { ConfigError } from './config-error.js';
import { deepFreeze } from './deep-freeze.js';
import { didYouMean, editDistance, nearest } from './did-you-mean.js';
import { configSchema, describeValue, functionConfigSchema, type GatewayConfig } from './schema.js';

export { ConfigError, checkRoot };

const FIELDS = Object.keys(configSchema.shape) as (keyof GatewayConfig)[];

const envName = (field: string) => `TFTPFN_${field.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}`;
const flagName = (field: string) => `--${field.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;

export interface LoadInput {
  /** Path of a JSON config file, or undefined (TFTPFN_CONFIG is used then). */
  configFile?: string;
  /** Values from command-line flags, keyed by field name; undefined entries are ignored. */
  flags?: Record<string, unknown>;
  env?: NodeJS.ProcessEnv;
  /** Told about settings that work but are probably mistakes (a misspelt TFTPFN_* variable). */
  onWarning?: (message: string) => void;
  /**
   * For `tftpfn serve`: the served folder must be named (--root, TFTPFN_ROOT or a config file)
   * rather than default to the working directory, and each function's root must exist.
   */
  serve?: boolean;
}

/**
 * Fields holding paths. In a config file a relative one means relative to the file's folder,
 * so a unit or a container started from another directory reads the same files; in the
 * environment and flags it means relative to the working directory, as on any command line.
 */
const PATH_FIELDS = ['root', 'writeRoot', 'deployDir', 'bucketsDir', 'remapFile', 'controlCacheDir', 'secretsKeyFile'] as const;
const FUNCTION_PATH_FIELDS = ['entry', 'root'] as const;

function resolvePaths(parsed: Record<string, unknown>, base: string): void {
  const fix = (o: Record<string, unknown>, k: string) => {
    const v = o[k];
    if (typeof v === 'string' && v !== '' && !isAbsolute(v)) o[k] = resolve(base, v);
  };
  const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
  for (const k of PATH_FIELDS) fix(parsed, k);
  if (isObject(parsed.functions)) for (const fn of Object.values(parsed.functions)) if (isObject(fn)) for (const k of FUNCTION_PATH_FIELDS) fix(fn, k);
  if (Array.isArray(parsed.routes)) for (const r of parsed.routes) if (isObject(r)) fix(r, 'folder');
  if (isObject(parsed.defaultRoute)) fix(parsed.defaultRoute, 'folder');
}

export function loadConfig(input: LoadInput = {}): GatewayConfig {
  const env = input.env ?? process.env;
  const origin: Record<string, string> = {};
  const merged: Record<string, unknown> = {};

  const file = input.configFile ?? env.TFTPFN_CONFIG;
  if (file) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(file, 'utf8'));
    } catch (e) {
      throw new ConfigError(`cannot read config file ${file}: ${(e as Error).message}. Give a JSON object such as {"port": 6969, "root": "./tftproot"}.`);
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw new ConfigError(`config file ${file} must hold a JSON object of fields, e.g. {"port": 6969}`);
    }
    resolvePaths(parsed as Record<string, unknown>, dirname(resolve(file)));
    for (const [k, v] of Object.entries(parsed)) {
      merged[k] = v;
      origin[k] = `config file ${file}`;
    }
    // Quoted numbers are text for the environment and flags only: in JSON a number is a number.
    const quoted = quotedScalars(parsed as Record<string, unknown>, file);
    if (quoted.length > 0) throw new ConfigError(`invalid configuration:\n  - ${quoted.join('\n  - ')}`);
  }
  for (const w of envWarnings(env)) input.onWarning?.(w);
  for (const field of FIELDS) {
    const v = env[envName(field)];
    if (v !== undefined && v !== '') {
      merged[field] = v;
      origin[field] = `environment ${envName(field)}`;
    }
  }
  for (const [k, v] of Object.entries(input.flags ?? {})) {
    if (v === undefined) continue;
    merged[k] = v;
    origin[k] = `flag ${flagName(k)}`;
  }
  if (input.serve && merged.root === undefined && !file) {
    throw new ConfigError(
      'no folder to serve: give --root DIR (or TFTPFN_ROOT, or "root" in a config file given with -c); ' +
        'tftpfn serve does not share the working directory unless asked to (--root .)',
    );
  }
  const config = parseConfig(merged, origin);
  checkRoot(config.root, origin.root);
  if (input.serve) checkFunctionRoots(config.functions, origin.functions);
  for (const w of configWarnings(config)) input.onWarning?.(w);
  return config;
}

/**
 * Configs this module produced: deep-frozen, so one that comes back (serve hands loadConfig's
 * result to startGateway) is returned as it is instead of being parsed a second time.
 */
const parsedConfigs = new WeakSet<object>();

/** True for a config parseConfig or loadConfig returned (not a copy of one). */
export function isParsedConfig(value: unknown): value is GatewayConfig {
  return typeof value === 'object' && value !== null && parsedConfigs.has(value);
}

/**
 * Validates a config object (already merged); used by createGateway too. The result is
 * deep-frozen; a result of this function passed back in is returned unchanged (parsed once).
 */
export function parseConfig(raw: Record<string, unknown> | GatewayConfig, origin: Record<string, string> = {}): GatewayConfig {
  if (isParsedConfig(raw)) return raw;
  const result = configSchema.safeParse(raw);
  if (!result.success) {
    const lines = result.error.issues.map((issue) => {
      if (issue.code === 'unrecognized_keys' && issue.path.length > 0) {
        // A nested object (a route, a function): its own keys, and the nearest to each typo.
        const field = issue.path.join('.');
        const top = String(issue.path[0]);
        const from = origin[top] ? ` (from ${origin[top]})` : '';
        const valid = keysAt(issue.path);
        const each = issue.keys.map((k) => `"${k}"${didYouMean(k, valid)}`);
        return `field "${field}"${from}: unknown key ${each.join(', ')}${valid.length ? `; the keys are ${valid.join(', ')}` : ''}`;
      }
      if (issue.code === 'unrecognized_keys') {
        const origins = [...new Set(issue.keys.map((k) => origin[k]).filter(Boolean))];
        const from = origins.length ? ` (from ${origins.join(', ')})` : '';
        const each = issue.keys.map((k) => `"${k}"${didYouMean(k, FIELDS)}`);
        return `unknown field(s) ${each.join(', ')}${from}: remove or rename them; the fields are ${FIELDS.join(', ')}`;
      }
      const field = issue.path.join('.') || '(root)';
      const top = String(issue.path[0] ?? '');
      const from = origin[top] ? ` (from ${origin[top]})` : '';
      return `field "${field}"${from}: ${issue.message}`;
    });
    throw new ConfigError(`invalid configuration:\n  - ${lines.join('\n  - ')}`);
  }
  const config = deepFreeze(result.data);
  parsedConfigs.add(config);
  return config;
}

/**
 * A parsed config with a few fields replaced by values the caller derived from it (serve's
 * per-process metrics port and gateway id, and the listening port its primary picked for
 * port 0): frozen and marked parsed like the original, so it is not parsed again either.
 */
export function deriveConfig(config: GatewayConfig, patch: Partial<Pick<GatewayConfig, 'metricsPort' | 'gatewayId' | 'port'>>): GatewayConfig {
  const derived = deepFreeze({ ...config, ...patch });
  parsedConfigs.add(derived);
  return derived;
}

/** The keys of the object the schema expects at `path` (a route, a function's settings), or none. */
function keysAt(path: readonly PropertyKey[]): string[] {
  let t: s.AnySchema | undefined = configSchema;
  for (const seg of path) {
    const b: s.AnySchema | undefined = t?.base();
    if (b instanceof s.ObjectSchema) t = (b.shape as Record<string, s.AnySchema>)[String(seg)];
    else if (b instanceof s.ArraySchema) t = b.element;
    else if (b instanceof s.RecordSchema) t = b.values;
    else return [];
  }
  const b = t?.base();
  return b instanceof s.ObjectSchema ? Object.keys(b.shape) : [];
}

/** What a field's schema wants underneath defaults, optionals and text parsing. */
function baseType(schema: s.AnySchema | undefined): 'number' | 'boolean' | undefined {
  const b = schema?.base();
  return b instanceof s.NumberSchema ? 'number' : b instanceof s.BooleanSchema ? 'boolean' : undefined;
}

/** JSON strings where a number or boolean belongs, top level and in functions.*; one line each. */
function quotedScalars(parsed: Record<string, unknown>, file: string): string[] {
  const problems: string[] = [];
  const check = (path: string, schema: s.AnySchema | undefined, v: unknown) => {
    const want = baseType(schema);
    if (want === undefined || typeof v !== 'string') return;
    const fix = want === 'number' && /^\s*-?\d+(\.\d+)?\s*$/.test(v) ? `write ${v.trim()} without quotes` : `give a JSON ${want}`;
    problems.push(`field "${path}" (from config file ${file}): expected a ${want}, got ${describeValue(v)}: ${fix}`);
  };
  const shape: Record<string, s.AnySchema> = configSchema.shape;
  for (const [k, v] of Object.entries(parsed)) check(k, shape[k], v);
  const fns = parsed.functions;
  if (typeof fns === 'object' && fns !== null && !Array.isArray(fns)) {
    const fnShape: Record<string, s.AnySchema> = functionConfigSchema.shape;
    for (const [name, fn] of Object.entries(fns)) {
      if (typeof fn !== 'object' || fn === null) continue;
      for (const [k, v] of Object.entries(fn)) check(`functions.${name}.${k}`, fnShape[k], v);
    }
  }
  return problems;
}

/** Variables read besides the fields' own; TFTPFN_TEST_* belong to the test suite. */
const OTHER_ENV = [
  'TFTPFN_CONFIG',
  'TFTPFN_PROCESS_SLOT',
  // serve --processes with SO_REUSEPORT: the port the primary picked (cli/serve.ts).
  'TFTPFN_PROCESS_PORT',
  // tftpfn deploy's author name (control/control-plane.ts).
  'TFTPFN_DEPLOY_AUTHOR',
  // The boot lab (test/boot/lab/tools.ts) and the storm test's size.
  'TFTPFN_QEMU',
  'TFTPFN_OVMF_CODE',
  'TFTPFN_OVMF_VARS',
  'TFTPFN_GRUBNET_EFI',
  'TFTPFN_DNSMASQ',
  'TFTPFN_BUSYBOX',
  'TFTPFN_BOOT_KERNEL',
  'TFTPFN_STORM_MIB',
];
const knownEnv = () => [...FIELDS.map(envName), ...OTHER_ENV];

/** A TFTPFN_* variable no field reads is a typo until shown otherwise: name it and the nearest. */
export function envWarnings(env: NodeJS.ProcessEnv): string[] {
  const known = knownEnv();
  const out: string[] = [];
  for (const name of Object.keys(env)) {
    if (!name.startsWith('TFTPFN_') || name.startsWith('TFTPFN_TEST_') || known.includes(name)) continue;
    const best = nearest(name, known) ?? known[0];
    out.push(`unknown environment variable ${name} is ignored: did you mean ${best}?`);
  }
  return out;
}

const WILDCARD_HOSTS = new Set(['0.0.0.0', '::', '[::]', '::0', '0:0:0:0:0:0:0:0']);

/** Settings that work but expose more than an operator may think. */
export function configWarnings(config: GatewayConfig): string[] {
  const out: string[] = [];
  if (config.metricsPort !== undefined && WILDCARD_HOSTS.has(config.metricsHost)) {
    out.push(
      `metricsHost ${config.metricsHost} serves /metrics, /healthz and /readyz on every interface, without authentication: ` +
        'use 127.0.0.1 (the default) or one internal address unless a firewall guards the port',
    );
  }
  return out;
}

export { envName, flagName };
