/**
 * What /readyz answers (stats/http-server.ts): ready once the listeners are bound and every
 * configured function has a version loaded, and not ready again from the moment close()
 * begins, so a load balancer stops sending new requests while sessions in flight drain.
 */
import type { Readiness } from '../stats/http-server.js';

export interface ReadinessFacts {
  readonly listening: boolean;
  readonly closing: boolean;
  /** Each function's name and loaded version (undefined: none loaded yet, or none would load). */
  readonly functions: readonly { readonly name: string; readonly version: string | undefined }[];
}

/** Pure: the verdict and one reason per thing that is not ready. */
export function readinessOf(facts: ReadinessFacts): Readiness {
  const reasons: string[] = [];
  if (facts.closing) reasons.push('shutting down');
  else if (!facts.listening) reasons.push('listeners not bound');
  for (const f of facts.functions) if (f.version === undefined) reasons.push(`function ${f.name} has no version loaded`);
  return { ready: reasons.length === 0, reasons };
}

/** The gateway's lifecycle flags, read live by `check` (handed to the metrics server). */
export class GatewayReadiness {
  private listening = false;
  private closing = false;

  constructor(private readonly functions: () => ReadinessFacts['functions']) {}

  listenersBound(): void {
    this.listening = true;
  }

  shuttingDown(): void {
    this.closing = true;
  }

  readonly check = (): Readiness => readinessOf({ listening: this.listening, closing: this.closing, functions: this.functions() });
}
