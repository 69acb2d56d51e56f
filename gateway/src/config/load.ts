/**
 * Builds the configuration from defaults < config file (JSON) < environment < flags.
 * The only module that reads process.env. Errors name the field, where it came from, and the fix.
 */
import { readFileSync } from 'node:fs';
import { configSchema, type GatewayConfig } from './schema.js';

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

const FIELDS = Object.keys(configSchema.shape) as (keyof GatewayConfig)[];

const envName = (field: string) => `TFTPFN_${field.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}`;
const flagName = (field: string) => `--${field.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;

export interface LoadInput {
  /** Path of a JSON config file, or undefined (TFTPFN_CONFIG is used then). */
  configFile?: string;
  /** Values from command-line flags, keyed by field name; undefined entries are ignored. */
  flags?: Record<string, unknown>;
  env?: NodeJS.ProcessEnv;
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
    for (const [k, v] of Object.entries(parsed)) {
      merged[k] = v;
      origin[k] = `config file ${file}`;
    }
  }
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
  return parseConfig(merged, origin);
}

/** Validates a config object (already merged); used by createGateway too. */
export function parseConfig(raw: Record<string, unknown>, origin: Record<string, string> = {}): GatewayConfig {
  const result = configSchema.safeParse(raw);
  if (!result.success) {
    const lines = result.error.issues.map((issue) => {
      if (issue.code === 'unrecognized_keys') {
        const origins = [...new Set(issue.keys.map((k) => origin[k]).filter(Boolean))];
        const from = origins.length ? ` (from ${origins.join(', ')})` : '';
        return `unknown field(s) ${issue.keys.map((k) => `"${k}"`).join(', ')}${from}: remove them; the fields are ${FIELDS.join(', ')}`;
      }
      const field = issue.path.join('.') || '(root)';
      const top = String(issue.path[0] ?? '');
      const from = origin[top] ? ` (from ${origin[top]})` : '';
      return `field "${field}"${from}: ${issue.message}`;
    });
    throw new ConfigError(`invalid configuration:\n  - ${lines.join('\n  - ')}`);
  }
  return Object.freeze(result.data);
}

export { envName, flagName };
