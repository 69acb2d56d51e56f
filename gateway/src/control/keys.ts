/**
 * Every Redis key and channel of the control plane, in one place (like cache/keyspace.ts): a
 * fleet shares them, so this layout is an interface between the CLI and every gateway.
 *
 *   tftpfn:ctl:
 *   ├─ functions                 set of function names with versions
 *   ├─ gateways                  set of gateway ids that sent a heartbeat (stale ones pruned on read)
 *   ├─ gw:ID                     one gateway's presence (JSON), expires with PX ttl
 *   ├─ rollouts                  pub/sub channel: a function's name when its rollout changed
 *   └─ {fn:NAME}:                one function, one hash tag: one Cluster slot, so its scripts
 *      │                         and MGETs touch one node
 *      ├─ versions               sorted set: version id, score = publish ms
 *      ├─ clock                  the last publish ms handed out (ids strictly increase)
 *      ├─ version:ID             a VersionRecord (JSON), immutable
 *      ├─ rollout                the Rollout (JSON)
 *      ├─ acks                   hash: gateway id → GatewayAck (JSON)
 *      └─ secrets                hash: key name → sealed value (secret-box.ts)
 *
 * No command touches keys of two functions, and the global keys are single-key commands, so
 * it works alike on one server, Sentinel and Cluster (no KEYS or SCAN anywhere).
 */
import { REDIS_KEY_PREFIX } from '../cache/keyspace.js';

export const CONTROL_PREFIX = `${REDIS_KEY_PREFIX}ctl:`;

export const controlKeys = {
  functions: `${CONTROL_PREFIX}functions`,
  gateways: `${CONTROL_PREFIX}gateways`,
  gateway: (id: string) => `${CONTROL_PREFIX}gw:${id}`,
  rolloutsChannel: `${CONTROL_PREFIX}rollouts`,
};

/** The keys of one function; `{fn:NAME}` is the Cluster hash tag (the name has no braces: FUNCTION_NAME). */
export function functionKeys(name: string) {
  const base = `${CONTROL_PREFIX}{fn:${name}}:`;
  return {
    versions: `${base}versions`,
    clock: `${base}clock`,
    version: (id: string) => `${base}version:${id}`,
    versionPrefix: `${base}version:`,
    rollout: `${base}rollout`,
    acks: `${base}acks`,
    secrets: `${base}secrets`,
  };
}

/** The bucket keys of a function's bundle: content-addressed by the code's sha256. */
export function bundleKeys(prefix: string, name: string, sha256: string) {
  const base = `${prefix}functions/${name}/${sha256}`;
  return { code: `${base}.mjs`, map: `${base}.mjs.map` };
}
