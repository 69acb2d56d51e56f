/**
 * Routes that travel with a function's version (issue 12: a manifest's `routes`, tftpfn.json):
 * while a version that declares them is the function's stable version, its globs send requests
 * to it. They come after the config's own routes (the operator's file wins a conflict) and
 * before the default, in function-name order, so the same set of serving versions always
 * gives the same table. A canary's routes do not count: a rollout changes routes when it
 * changes the stable version.
 *
 * Compiled once per set of serving versions (keyed by function@version), so a request costs
 * a short key while nothing is deployed.
 */
import { parseRouteTable, type Route } from './routes.js';

export interface FunctionRouteClaim {
  readonly function: string;
  readonly version: string;
  readonly routes: readonly { readonly match: string; readonly stripPrefix?: boolean | string }[];
}

export interface CompiledFunctionRoutes {
  readonly routes: readonly Route[];
  /** Declarations that could not be compiled (a version published before the manifest check): skipped, named. */
  readonly problems: readonly string[];
}

export class FunctionRoutes {
  private key = '';
  private compiled: CompiledFunctionRoutes = { routes: [], problems: [] };

  /** The routes for these claims, compiled again only when they changed. */
  compile(claims: readonly FunctionRouteClaim[]): CompiledFunctionRoutes {
    const sorted = [...claims].filter((c) => c.routes.length > 0).sort((a, b) => a.function.localeCompare(b.function));
    // A version's routes never change (versions are immutable): name@version says it all, and
    // costs far less per request than serialising the routes.
    const key = sorted.map((c) => `${c.function}@${c.version}`).join('\n');
    if (key === this.key) return this.compiled;
    const routes: Route[] = [];
    const problems: string[] = [];
    for (const claim of sorted) {
      try {
        const table = parseRouteTable({ routes: claim.routes.map((r) => ({ ...r, function: claim.function })) });
        // Labelled for records and logs: which function's version declared the route.
        for (const r of table.routes) routes.push({ ...r, index: `${claim.function}@${claim.version}#${r.index}` });
      } catch (e) {
        problems.push(`function ${claim.function} version ${claim.version}: its routes are ignored: ${(e as Error).message}`);
      }
    }
    this.key = key;
    this.compiled = { routes, problems };
    return this.compiled;
  }
}
