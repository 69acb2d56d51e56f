/**
 * What /readyz answers (stats/http-server.ts): ready once the listeners are bound and every
 * function has a version loaded — every function the runtime follows, and every one a route or
 * the default route names (issue 12: a route to a function never deployed is not ready, and the
 * reason names it) — and not ready again from the moment close() begins, so a load balancer
 * stops sending new requests while sessions in flight drain.
 *
 * Degraded is not unready: a gateway that serves the versions it cached because the control
 * plane is unreachable answers ready (it serves, and taking it out of a load balancer would only
 * move its clients to gateways in the same outage), with the state as a reason line,
 * `degraded: control plane unreachable, serving cached versions`.
 */
import type { Readiness } from '../stats/http-server.js';

export interface ReadinessFacts {
  readonly listening: boolean;
  readonly closing: boolean;
  /** Each function's name and loaded version (undefined: none loaded yet, or none would load). */
  readonly functions: readonly { readonly name: string; readonly version: string | undefined }[];
  /** Functions the routes name; one the runtime does not know has no version. */
  readonly routed?: readonly string[];
  /** Why the gateway serves in a degraded state (the control plane is unreachable), if it does. */
  readonly degraded?: string;
}

/** Pure: the verdict and one reason per thing that is not ready (and the degraded state, which keeps it ready). */
export function readinessOf(facts: ReadinessFacts): Readiness {
  const reasons: string[] = [];
  if (facts.closing) reasons.push('shutting down');
  else if (!facts.listening) reasons.push('listeners not bound');
  const missing = new Set<string>();
  for (const f of facts.functions) if (f.version === undefined) missing.add(f.name);
  const known = new Set(facts.functions.map((f) => f.name));
  for (const name of facts.routed ?? []) if (!known.has(name)) missing.add(name);
  for (const name of missing) reasons.push(`function ${name} has no version loaded`);
  const ready = reasons.length === 0;
  if (facts.degraded) reasons.push(`degraded: ${facts.degraded}`);
  return { ready, reasons };
}

/** The function names a config's routes and default route send requests to. */
export function routedFunctions(routes: readonly unknown[], defaultRoute: { readonly function?: string } | undefined): string[] {
  const names = new Set<string>();
  for (const r of routes) {
    const fn = (r as { function?: unknown } | null)?.function;
    if (typeof fn === 'string') names.add(fn);
  }
  if (defaultRoute?.function) names.add(defaultRoute.function);
  return [...names];
}

/** The gateway's lifecycle flags, read live by `check` (handed to the metrics server). */
export class GatewayReadiness {
  private listening = false;
  private closing = false;

  constructor(
    private readonly functions: () => ReadinessFacts['functions'],
    private readonly routed: readonly string[] = [],
    private readonly degraded: () => string | undefined = () => undefined,
  ) {}

  listenersBound(): void {
    this.listening = true;
  }

  shuttingDown(): void {
    this.closing = true;
  }

  readonly check = (): Readiness =>
    readinessOf({ listening: this.listening, closing: this.closing, functions: this.functions(), routed: this.routed, degraded: this.degraded() });
}
