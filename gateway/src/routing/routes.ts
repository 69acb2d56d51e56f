/**
 * The route table: ordered glob → target rules, first match wins, then an optional default.
 *
 * A target is either a named function or a plain folder (served without any function). The
 * table is validated and compiled once at config load; resolving a request is then a linear
 * scan of precompiled matchers over the normalised path, with no allocation beyond the result.
 *
 * Config errors name the route and the field and say how to fix it, in the style of
 * config/schema.ts: `routes[2]: give either "function" or "folder", not both`.
 */
import * as s from '../schema/index.js';
import { compileGlob, GlobError, type Glob } from './glob.js';
import { didYouMean } from '../config/did-you-mean.js';

export type RouteTarget =
  | { readonly kind: 'function'; readonly name: string }
  | { readonly kind: 'folder'; readonly folder: string }
  /** Objects `prefix + rest` in a bucket, served with no function (the S3 source). */
  | { readonly kind: 'bucket'; readonly bucket: string; readonly prefix: string };

export interface Route {
  /**
   * For logs and stats: the position in `routes`, 'default', or `NAME@VERSION#i` for a route a
   * function's version declared (function-routes.ts).
   */
  readonly index: number | string;
  readonly glob: Glob | undefined;
  readonly target: RouteTarget;
  /** The literal leading path (no trailing '/') removed from `rest`; '' when nothing is stripped. */
  readonly strip: string;
}

export interface RouteTable {
  readonly routes: readonly Route[];
  readonly fallback: Route | undefined;
}

export interface ResolvedRoute {
  readonly route: Route;
  /** The normalised path with the route's prefix removed (or unchanged when it strips nothing). */
  readonly rest: string;
}

export class RouteConfigError extends Error {
  readonly problems: readonly string[];
  constructor(problems: readonly string[]) {
    super(`invalid routing config:\n  ${problems.join('\n  ')}`);
    this.name = 'RouteConfigError';
    this.problems = problems;
  }
}

const name = s.string().min(1, 'must not be empty');
const targetFields = {
  function: name.optional(),
  folder: name.optional(),
  bucket: name.optional(),
  /** With bucket: prepended to the path to make the key, e.g. "tftp/". */
  prefix: s.string().optional(),
};

const routeSchema = s.object({
  match: s.string({ error: 'give a glob, e.g. "pxelinux.cfg/*"' }),
  ...targetFields,
  stripPrefix: s.union([s.boolean(), s.string()], { error: 'use true, false, or the leading path to strip, e.g. "tftpboot"' }).optional(),
});

const defaultSchema = s.object(targetFields);

export const routingSchema = s.object({
  routes: s.array(routeSchema, { error: 'give a list of routes, e.g. [{ "match": "pxelinux.cfg/*", "function": "pxe" }]' }).default([]),
  default: defaultSchema.optional(),
});

export type RoutingConfigInput = s.Input<typeof routingSchema>;

function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : out === '' ? String(p) : `.${String(p)}`;
  return out || '(routing)';
}

function target(at: string, t: { function?: string; folder?: string; bucket?: string; prefix?: string }, problems: string[]): RouteTarget | undefined {
  const given = (['function', 'folder', 'bucket'] as const).filter((k) => t[k] !== undefined);
  if (t.prefix !== undefined && t.bucket === undefined) {
    problems.push(`${at}.prefix: "prefix" goes with "bucket" (it starts the object key); remove it or add "bucket"`);
    return undefined;
  }
  if (given.length > 1) problems.push(`${at}: give one of "function", "folder" or "bucket", not ${given.map((g) => `"${g}"`).join(' and ')}`);
  else if (t.function !== undefined) return { kind: 'function', name: t.function };
  else if (t.folder !== undefined) return { kind: 'folder', folder: t.folder };
  else if (t.bucket !== undefined) {
    const prefix = t.prefix ?? '';
    if (prefix.startsWith('/') || prefix.split('/').includes('..')) problems.push(`${at}.prefix: a key prefix has no leading "/" and no ".." segment, e.g. "tftp/"`);
    // A prefix is a folder of the bucket: "tftp" would let "-private/keys.txt" read the sibling
    // key "tftp-private/keys.txt" (issue 9 §4). Refused rather than fixed up, so the operator
    // sees which keys the route serves.
    else if (prefix !== '' && !prefix.endsWith('/')) {
      problems.push(`${at}.prefix: "${prefix}" does not end with "/", so the route would also reach sibling keys such as "${prefix}-private/...": write "${prefix}/"`);
    } else return { kind: 'bucket', bucket: t.bucket, prefix };
  } else problems.push(`${at}: give "function" (a deployed function's name), "folder" (a directory to serve) or "bucket" (objects in a bucket)`);
  return undefined;
}

/** The literal leading path to strip, checked against what the glob guarantees is there. */
function stripFor(at: string, glob: Glob, strip: boolean | string | undefined, problems: string[]): string {
  if (strip === undefined || strip === false) return '';
  if (glob.isLiteral) {
    problems.push(`${at}.stripPrefix: "${glob.pattern}" has no wildcard, so nothing would be left of the path; remove stripPrefix`);
    return '';
  }
  if (strip === true) {
    if (glob.staticPrefix === '') problems.push(`${at}.stripPrefix: "${glob.pattern}" starts with a wildcard, so there is no fixed prefix to strip; remove stripPrefix`);
    return glob.staticPrefix;
  }
  const want = strip.replace(/^\/+|\/+$/g, '');
  const fixed = glob.staticPrefix;
  // Whole segments only: stripping "boot" from "bootx/..." would be a surprise.
  if (want === '' || !(fixed === want || fixed.startsWith(`${want}/`))) {
    problems.push(
      `${at}.stripPrefix: "${strip}" is not a leading whole-segment part of "${glob.pattern}"` +
        (fixed ? `; use true (strips "${fixed}") or a leading part of it` : '; remove stripPrefix'),
    );
    return '';
  }
  return want;
}

/** A mistyped key names the keys that exist there and the nearest one. */
function issueText(i: s.Issue): string {
  if (i.code !== 'unrecognized_keys') return i.message;
  const valid = i.path.length === 0 ? ['routes', 'default'] : i.path[0] === 'default' ? Object.keys(defaultSchema.shape) : Object.keys(routeSchema.shape);
  return `unknown key ${i.keys.map((k) => `"${k}"${didYouMean(k, valid)}`).join(', ')}; the keys are ${valid.join(', ')}`;
}

/** Validates and compiles a routing config; throws RouteConfigError listing every problem. */
export function parseRouteTable(input: unknown): RouteTable {
  const parsed = routingSchema.safeParse(input ?? {});
  if (!parsed.success) throw new RouteConfigError(parsed.error.issues.map((i) => `${formatPath(i.path)}: ${issueText(i)}`));
  const problems: string[] = [];
  const routes: Route[] = [];
  parsed.data.routes.forEach((r, index) => {
    const at = `routes[${index}]`;
    let glob: Glob | undefined;
    try {
      glob = compileGlob(r.match);
    } catch (e) {
      if (!(e instanceof GlobError)) throw e;
      problems.push(`${at}.match: ${e.message}`);
    }
    const t = target(at, r, problems);
    const strip = glob ? stripFor(at, glob, r.stripPrefix, problems) : '';
    if (glob && t) routes.push(Object.freeze({ index, glob, target: t, strip }));
  });
  let fallback: Route | undefined;
  if (parsed.data.default) {
    const t = target('default', parsed.data.default, problems);
    if (t) fallback = Object.freeze({ index: 'default' as const, glob: undefined, target: t, strip: '' });
  }
  if (problems.length > 0) throw new RouteConfigError(problems);
  return Object.freeze({ routes: Object.freeze(routes), fallback });
}

/**
 * The first route whose glob matches the normalised path, else the default, else undefined
 * (the gateway answers ERROR 1: no route means no such file).
 */
export function resolveRoute(table: RouteTable, path: string): ResolvedRoute | undefined {
  for (const route of table.routes) {
    if (route.glob!.matches(path)) {
      // The glob matched, so the path begins with `strip/` and something follows it.
      return { route, rest: route.strip === '' ? path : path.slice(route.strip.length + 1) };
    }
  }
  return table.fallback ? { route: table.fallback, rest: path } : undefined;
}
