/**
 * The per-function manifest: `tftpfn.json` in the entry's folder (one function per folder, as
 * the examples in functions/ are laid out, like wrangler.toml beside a Worker). Its settings
 * travel with every version published from that entry (control-plane.ts FunctionSettings):
 *
 *     { "vars": { "SITE": "lab" }, "poolSize": 2, "timeoutMs": 5000,
 *       "routes": [{ "match": "grub/*", "stripPrefix": true }] }
 *
 * A function that takes uploads opts in with the gateway config's own fields (issue 15):
 * `"writes": true`, `maxUploadBytes`, `maxUploadsPerClient`, `allowOverwrite`. A gateway honours
 * them only within its own config (runtime/version-settings.ts: writes need the operator's
 * consent, `allowManifestWrites` or functions.NAME.writes, and the config's limits are ceilings).
 *
 * The bounds are the config schema's own function fields (config/schema.ts), so a manifest can
 * ask for nothing a gateway config could not; numbers must be JSON numbers. Routes are checked
 * by the route table's parser (routing/routes.ts): a glob that does not compile or a
 * stripPrefix that strips nothing fails here, at deploy, not on the gateways. Every error
 * names the file and the field: `functions/grub/tftpfn.json: poolSize: use a whole number from 1 to 256`.
 */
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import * as s from '../schema/index.js';
import { describeValue, functionConfigSchema } from '../config/schema.js';
import { parseRouteTable, RouteConfigError } from '../routing/routes.js';
import type { FunctionSettings } from './control-plane.js';

export const MANIFEST_FILE = 'tftpfn.json';

export class ManifestError extends Error {
  override name = 'ManifestError';
  constructor(readonly problems: readonly string[]) {
    super(problems.join('\n'));
  }
}

const fn = functionConfigSchema.shape;
const VAR_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** A JSON number first (a quoted "2" is refused, as in the config file), then the config's bounds and wording. */
const limit = (field: s.DefaultSchema<s.Schema<number, unknown>> | s.OptionalSchema<s.Schema<number, unknown>>) =>
  s.number({ error: (iss) => `expected a JSON number, got ${describeValue(iss.input)}` }).pipe(field.unwrap()).optional();
/** A switch: the config's own check and wording ("use true or false"). */
const flag = (field: s.DefaultSchema<s.Schema<boolean, unknown>>) => field.unwrap().optional();

const routeSchema = s.object({
  match: s.string({ error: 'give a glob, e.g. "grub/*"' }).min(1, 'give a glob, e.g. "grub/*"'),
  stripPrefix: s.union([s.boolean(), s.string()], { error: 'use true, false, or the leading path to strip, e.g. "tftpboot"' }).optional(),
});

export const manifestSchema = s
  .object({
    vars: s
      .record(s.string(), s.string({ error: (iss) => `expected text, got ${describeValue(iss.input)}` }), { error: 'give an object of names to text, e.g. { "SITE": "lab" }' })
      .superRefine((vars, ctx) => {
        // The config's rule for vars names (config/schema.ts stringMap), said per name.
        for (const k of Object.keys(vars)) {
          if (!VAR_NAME.test(k)) ctx.addIssue({ code: 'custom', path: [k], message: `"${k}" is not a var name: names are letters, digits and _, not starting with a digit` });
        }
      })
      .optional(),
    poolSize: limit(fn.poolSize),
    heapMb: limit(fn.heapMb),
    timeoutMs: limit(fn.timeoutMs),
    maxConcurrent: limit(fn.maxConcurrent),
    writes: flag(fn.writes),
    maxUploadBytes: limit(fn.maxUploadBytes),
    maxUploadsPerClient: limit(fn.maxUploadsPerClient),
    allowOverwrite: flag(fn.allowOverwrite),
    routes: s.array(routeSchema, { error: 'give a list of routes, e.g. [{ "match": "grub/*" }]' }).optional(),
  });

const VALID_KEYS = Object.keys(manifestSchema.shape).join(', ');

function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : out === '' ? String(p) : `.${String(p)}`;
  return out;
}

/**
 * Validates manifest JSON (already parsed). `file` names it in errors. Throws a ManifestError
 * listing every problem, each `FILE: FIELD: what and how to fix it`.
 */
export function parseManifest(input: unknown, file: string = MANIFEST_FILE): FunctionSettings {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new ManifestError([`${file}: expected a JSON object like { "vars": {}, "poolSize": 1 }, got ${describeValue(input)}`]);
  }
  const parsed = manifestSchema.safeParse(input);
  if (!parsed.success) {
    throw new ManifestError(
      parsed.error.issues.map((i) => {
        if (i.code === 'unrecognized_keys') {
          const at = formatPath(i.path);
          return `${file}: ${at ? `${at}: ` : ''}unknown ${i.keys.length === 1 ? 'key' : 'keys'} ${i.keys.map((k) => `"${k}"`).join(', ')}: valid keys are ${at ? 'match, stripPrefix' : VALID_KEYS}`;
        }
        return `${file}: ${formatPath(i.path) || '(manifest)'}: ${i.message}`;
      }),
    );
  }
  const settings = parsed.data;
  if (settings.routes && settings.routes.length > 0) {
    try {
      // The function's name is not known here; the check is about globs and prefixes only.
      parseRouteTable({ routes: settings.routes.map((r) => ({ ...r, function: 'manifest' })) });
    } catch (e) {
      if (!(e instanceof RouteConfigError)) throw e;
      throw new ManifestError(e.problems.map((p) => `${file}: ${p}`));
    }
  }
  return settings as FunctionSettings;
}

/** The manifest beside `entryPath` (tftpfn.json in its folder), or {} when there is none. */
export async function readManifest(entryPath: string): Promise<FunctionSettings> {
  const file = manifestPath(entryPath);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new ManifestError([`${file}: cannot read it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`]);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new ManifestError([`${file}: not valid JSON (${(e as Error).message})`]);
  }
  return parseManifest(json, file);
}

/** Where the manifest of an entry is looked for. */
export function manifestPath(entryPath: string): string {
  return join(dirname(entryPath), MANIFEST_FILE);
}
