/**
 * The request handler a config asks for: the caller's own handler, else the router over
 * routes, functions, buckets and folders, else (no routing configured) the one in-process
 * function or the root folder.
 */
import type { GatewayConfig } from '../config/schema.js';
import type { RequestHandler } from '../handlers/request.js';
import { buildRouterFromConfig } from '../handlers/router.js';
import type { FunctionRuntime } from '../runtime/function-runtime.js';
import { bucketHandler } from '../handlers/bucket.js';
import { folderHandler } from '../handlers/folder.js';
import type { ObjectSource } from '../objects/object-source.js';
import { FunctionRoutes, type CompiledFunctionRoutes } from '../routing/function-routes.js';
import type { Logger } from 'pino';

export interface HandlerParts {
  readonly config: GatewayConfig;
  /** Given by the embedder: serves every request itself, bypassing routes and functions. */
  readonly handler: RequestHandler | undefined;
  readonly runtime: FunctionRuntime | undefined;
  readonly objects: ObjectSource | undefined;
  /** Names of the functions given in process. */
  readonly inProcess: readonly string[];
  /** Where a deployed version's routes that cannot be compiled are reported. */
  readonly log?: Logger;
}

/** The routes of the functions' serving versions, compiled when they change; problems logged once. */
function functionRoutesOf(runtime: FunctionRuntime, log: Logger | undefined): () => CompiledFunctionRoutes {
  const compiler = new FunctionRoutes();
  let last: CompiledFunctionRoutes | undefined;
  return () => {
    const compiled = compiler.compile(runtime.routeClaims());
    if (compiled !== last) {
      last = compiled;
      for (const problem of compiled.problems) log?.warn({ event: 'functionRoutes' }, problem);
    }
    return compiled;
  };
}

export function buildRequestHandler({ config, handler, runtime, objects, inProcess, log }: HandlerParts): RequestHandler {
  const folderOptions = {
    readAheadBytes: config.readAheadBytes,
    fileCacheTtlMs: config.fileCacheTtlMs,
    fileCacheMaxFileBytes: config.fileCacheMaxFileBytes,
    fileCacheMaxBytes: config.fileCacheMaxBytes,
  };
  const rootHandler = () => folderHandler({ root: config.root, writeRoot: config.writeRoot, allowOverwrite: config.allowOverwrite, ...folderOptions });
  let h = handler;
  if (!h) {
    const folders = new Map<string, RequestHandler>();
    h = buildRouterFromConfig(config, {
      rootHandler,
      functionHandler: (name) => runtime?.handler(name),
      // Versions from a control plane may bring their own routes (tftpfn.json "routes").
      functionRoutes: runtime?.followsControlPlane ? functionRoutesOf(runtime, log) : undefined,
      bucketHandler: objects && ((bucket, prefix) => bucketHandler(objects, bucket, prefix)),
      folderHandler: (folder) => {
        let f = folders.get(folder);
        if (!f) folders.set(folder, (f = folderHandler({ root: folder, ...folderOptions })));
        return f;
      },
    });
  }
  // No routing configured: one function given in process serves everything; else the root folder.
  return h ?? (inProcess.length === 1 && runtime ? runtime.handler(inProcess[0])! : rootHandler());
}
