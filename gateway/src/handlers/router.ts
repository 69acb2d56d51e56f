/**
 * The request router: composes remap (tftp-hpa -m rules), the route table and the default
 * into one RequestHandler, so the gateway keeps a single handler seam whatever is configured.
 *
 * Per request, reads and writes alike:
 *   1. remap (when rules are given) on the client's raw filename; an 'a' rule or a runaway
 *      loop refuses with ERROR 2, and the rewritten name is normalised again (protocol/path.ts),
 *      so a rule can never produce "../" or a path outside the target's root;
 *   2. resolveRoute on the normalised path: first match, then the default; nothing → ERROR 1;
 *   3. the target's handler gets the request with `path.normalized` set to the route's `rest`
 *      (`path.raw` stays what the client sent, for logs and stats), and the tags say which
 *      route served it.
 *
 * The router does no I/O: folder handlers are built once, up front (so a missing folder
 * fails at start-up rather than on the first request), and function handlers are looked up
 * per request, because a deployed function can appear, or go, while the gateway runs; so can
 * the routes a deployed version declares (routing/function-routes.ts), tried after the
 * config's routes and before the default.
 */
import { ConfigError } from '../config/load.js';
import type { GatewayConfig } from '../config/schema.js';
import { ErrorCode, TftpError } from '../protocol/error-codes.js';
import { wireError } from '../errors/to-tftp-error.js';
import { WIRE_TEXT } from '../errors/wire-texts.js';
import { normalizePath, type RequestPath } from '../protocol/path.js';
import type { RequestHandler, SessionTags, TftpRequest } from './request.js';
import { functionFailed } from '../runtime/function-failure.js';
import { applyRemap, type RemapRule } from '../routing/remap.js';
import { readRemapFile } from '../routing/remap-file.js';
import { parseRouteTable, resolveRoute, type Route, type RouteTable } from '../routing/routes.js';
import type { CompiledFunctionRoutes } from '../routing/function-routes.js';

export interface RouterOptions {
  /** From parseRouteTable. */
  readonly table: RouteTable;
  /** From parseRemap or loadRemapFile; applied to the raw filename before routing. */
  readonly remap?: readonly RemapRule[];
  /** The handler of a named function, or undefined when no such function is loaded now. */
  functionHandler(name: string): RequestHandler | undefined;
  /** A handler serving a plain folder; called once per folder target, when the router is built. */
  folderHandler(folder: string): RequestHandler;
  /** A handler serving objects `prefix + path` from a bucket; absent: bucket routes are a config error. */
  bucketHandler?(bucket: string, prefix: string): RequestHandler;
  /**
   * Routes the functions' serving versions declare (routing/function-routes.ts), asked per
   * request: tried after the table's routes, before its default. Compiled and cached by the
   * caller: the same object while nothing changed.
   */
  functionRoutes?(): CompiledFunctionRoutes;
}

/** ERROR texts hold at most this much client-derived text (an 'a' rule's "\1" can copy it). */
export const MAX_DENY_MESSAGE_CHARS = 64;

// C0, DEL and C1 controls: a NUL would end the ERROR string early, the rest garble terminals and logs.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/g;

/** An operator's 'a' rule text made safe for the wire: no control characters, bounded length. */
export function safeDenyMessage(message: string | undefined): string {
  const clean = (message ?? '').replace(CONTROL, '').trim();
  if (clean === '') return WIRE_TEXT.accessViolation.text;
  // Array.from counts code points, so a cut never splits a surrogate pair.
  const chars = Array.from(clean);
  return chars.length <= MAX_DENY_MESSAGE_CHARS ? clean : chars.slice(0, MAX_DENY_MESSAGE_CHARS).join('');
}

/** The remapped, normalised path, or throws ERROR 2. */
function remapPath(rules: readonly RemapRule[], request: TftpRequest, tags: SessionTags): RequestPath {
  const result = applyRemap(rules, { path: request.path.raw, kind: request.kind, clientAddress: request.peer.address });
  if ('denied' in result) {
    tags.route = 'remap';
    // A loop is our bound, not the operator's words: the generic text.
    const message = result.reason === 'abort' ? safeDenyMessage(result.message) : WIRE_TEXT.accessViolation.text;
    throw new TftpError(ErrorCode.AccessViolation, message, { cause: new Error(`remap line ${result.line}: ${result.reason === 'abort' ? 'refused by an "a" rule' : 'too many rewrite steps'}`) });
  }
  if (result.path === request.path.raw) {
    // No rule rewrote a name the gateway could not normalise: refuse it as it would have.
    if (request.path.invalid !== undefined) throw request.path.invalid;
    return request.path;
  }
  try {
    const normalized = normalizePath(result.path).normalized;
    tags.remappedPath = normalized;
    return { raw: request.path.raw, normalized };
  } catch (e) {
    tags.route = 'remap';
    const why = e instanceof Error && e.cause instanceof Error ? e.cause.message : 'not a valid path';
    throw wireError(WIRE_TEXT.accessViolation, { cause: new Error(`remapped to ${JSON.stringify(result.path)}: ${why}`) });
  }
}

export function createRouter(opts: RouterOptions): RequestHandler {
  const { table, remap } = opts;
  const folders = new Map<Route, RequestHandler>();
  for (const route of table.fallback ? [...table.routes, table.fallback] : table.routes) {
    const t = route.target;
    if (t.kind === 'function') continue;
    const field = typeof route.index === 'number' ? `routes.${route.index}.${t.kind}` : `defaultRoute.${t.kind}`;
    if (t.kind === 'bucket') {
      if (!opts.bucketHandler) throw new ConfigError(`field "${field}": bucket routes need an object store: set "objectStore" (s3) or create "bucketsDir"`);
      folders.set(route, opts.bucketHandler(t.bucket, t.prefix));
      continue;
    }
    try {
      folders.set(route, opts.folderHandler(t.folder));
    } catch (e) {
      // Say which route names the folder: the folder handler only knows the folder.
      const message = `field "${field}": cannot serve ${t.folder}: ${(e as Error).message}`;
      throw e instanceof ConfigError ? new ConfigError(message) : new Error(message, { cause: e });
    }
  }

  // The table with the functions' own routes spliced in before the default, rebuilt only when
  // the compiled set changes (a deploy that adds or drops routes).
  let spliced: { from: CompiledFunctionRoutes; table: RouteTable } | undefined;
  function currentTable(): RouteTable {
    const fn = opts.functionRoutes?.();
    if (!fn || fn.routes.length === 0) return table;
    if (spliced?.from !== fn) spliced = { from: fn, table: { routes: [...table.routes, ...fn.routes], fallback: table.fallback } };
    return spliced.table;
  }

  /** Resolves the target and tags the session; throws the TftpError the client should get. */
  function route(request: TftpRequest, tags: SessionTags): { handler: RequestHandler; request: TftpRequest } {
    const path = remap && remap.length > 0 ? remapPath(remap, request, tags) : request.path;
    const resolved = resolveRoute(currentTable(), path.normalized);
    if (!resolved) throw wireError(WIRE_TEXT.fileNotFound, { cause: new Error(`no route matches ${JSON.stringify(path.normalized)} and there is no default`) });
    const { route: r, rest } = resolved;
    tags.route = String(r.index);
    let handler: RequestHandler | undefined;
    if (r.target.kind === 'function') {
      tags.function = r.target.name;
      handler = opts.functionHandler(r.target.name);
      // Not the client's fault: ERROR 0, recorded like the runtime's own "no version loaded".
      if (!handler) throw functionFailed('unavailable', `function "${r.target.name}" is not loaded`);
    } else {
      if (r.target.kind === 'folder') tags.source = 'folder';
      handler = folders.get(r)!;
    }
    const routed = rest === request.path.normalized && path === request.path ? request : { ...request, path: { raw: request.path.raw, normalized: rest } };
    return { handler, request: routed };
  }

  return {
    rewritesRawPath: remap !== undefined && remap.length > 0,
    async openRead(request, tags) {
      const { handler, request: routed } = route(request, tags);
      return handler.openRead(routed, tags);
    },
    // Always present: whether a write is allowed depends on the route it resolves to.
    async openWrite(request, tags) {
      const { handler, request: routed } = route(request, tags);
      if (!handler.openWrite) throw wireError(WIRE_TEXT.writesDisabled);
      return handler.openWrite(routed, tags);
    },
  };
}

export interface RouterDeps {
  functionHandler(name: string): RequestHandler | undefined;
  folderHandler(folder: string): RequestHandler;
  bucketHandler?(bucket: string, prefix: string): RequestHandler;
  /**
   * The plain root folder's handler (root, with writeRoot), used as the fallback when only a
   * remap file is configured; without it, folderHandler(config.root) (read-only) is used.
   */
  rootHandler?(): RequestHandler;
  /** The routes deployed functions declare (a control plane's versions): see RouterOptions. */
  functionRoutes?(): CompiledFunctionRoutes;
}

/**
 * The router for a gateway config, or undefined when it configures no routing (no routes,
 * no defaultRoute, no remapFile): the gateway then keeps serving its root folder as before.
 *
 * A remap file alone routes everything to the root folder, as in.tftpd -m does. Once routes
 * are given, the routes rule holds whether or not there is a remap file: a path no route
 * matches gets ERROR 1 unless defaultRoute is set.
 */
export function buildRouterFromConfig(config: GatewayConfig, deps: RouterDeps): RequestHandler | undefined {
  const hasRoutes = config.routes.length > 0 || config.defaultRoute !== undefined;
  // Functions that bring their own routes need the router even when the config names none:
  // what no route matches goes to the root folder, as with a remap file alone.
  if (!hasRoutes && config.remapFile === undefined && deps.functionRoutes === undefined) return undefined;
  const remap = config.remapFile !== undefined ? readRemapFile(config.remapFile) : undefined;
  const table = parseRouteTable({ routes: config.routes, default: hasRoutes ? config.defaultRoute : { folder: config.root } });
  // Built here, not by createRouter, so its errors speak of "root", the field the operator set.
  const root = hasRoutes ? undefined : (deps.rootHandler?.() ?? deps.folderHandler(config.root));
  return createRouter({
    table,
    remap,
    functionHandler: (name) => deps.functionHandler(name),
    bucketHandler: deps.bucketHandler && ((bucket, prefix) => deps.bucketHandler!(bucket, prefix)),
    functionRoutes: deps.functionRoutes,
    // With no routes the only folder target is the synthesised root fallback.
    folderHandler: (folder) => root ?? deps.folderHandler(folder),
  });
}
