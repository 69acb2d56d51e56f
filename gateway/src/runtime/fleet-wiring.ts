/**
 * A gateway's fleet source built from its config (function-runtime.ts, with a control plane,
 * issue 12): which functions only a deploy can provide, where its disk cache lives, and the name
 * it acknowledges and reports presence under.
 */
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import { DEFAULTS } from '../config/defaults.js';
import type { GatewayConfig } from '../config/schema.js';
import type { ControlPlane } from '../control/control-plane.js';
import { FleetCache } from './fleet-cache.js';
import { defaultControlCacheDir } from './fleet-cache-dir.js';
import { FleetSource } from './fleet-source.js';

export interface FleetWiring {
  readonly log: Logger;
  /** Functions run in process, never deployed. */
  readonly inProcess: Iterable<string>;
  /** The fleet's secrets key: seals the secrets kept in the disk cache. */
  readonly secretsKey?: Buffer;
  /** Names this gateway in acknowledgements and presence (else the config's, else host-pid). */
  readonly gatewayId?: string;
}

/** The fleet source for `c`'s deployed functions; not started. */
export function fleetSourceFor(c: GatewayConfig, controlPlane: ControlPlane, opts: FleetWiring): FleetSource {
  const inProcess = new Set(opts.inProcess);
  // Routes and entry-less config functions name functions that only a deploy can provide.
  const named = new Set<string>();
  for (const r of c.routes) {
    const fn = (r as { function?: unknown } | null)?.function;
    if (typeof fn === 'string') named.add(fn);
  }
  if (c.defaultRoute?.function) named.add(c.defaultRoute.function);
  for (const [name, f] of Object.entries(c.functions)) if (!f.entry) named.add(name);
  return new FleetSource({
    controlPlane,
    cache: new FleetCache(c.controlCacheDir ?? defaultControlCacheDir(c, controlPlane.kind), opts.secretsKey),
    gatewayId: opts.gatewayId ?? c.gatewayId ?? `${hostname()}-${process.pid}`,
    log: opts.log,
    pollMs: c.controlPollMs,
    heartbeatMs: DEFAULTS.controlHeartbeatMs,
    names: [...named].filter((n) => !inProcess.has(n)),
  });
}
