/**
 * The settings a version's worker pool runs with (issue 12): the operator's config for the
 * function (`functions.NAME`), with what travels with the version over it — the manifest's vars,
 * poolSize, heapMb, timeoutMs and maxConcurrent from its VersionRecord — and the control plane's
 * secrets over the config's. Pure; function-runtime.ts calls it for every load, so each version
 * runs with its own settings, and a canary beside the stable one with its own.
 *
 * Uploads (issue 15) follow another rule, because a deploy must not be able to open a gateway
 * to writes its operator did not allow: the manifest's `writes`, `maxUploadBytes`,
 * `maxUploadsPerClient` and `allowOverwrite` may only narrow what the gateway's config gives
 * (versionWrites below).
 */
import { functionConfigSchema, type FunctionConfig } from '../config/schema.js';
import type { FunctionSettings } from '../control/control-plane.js';
import type { VersionSpec } from './version-sources.js';

/** The gateway-wide part of the write policy (config/schema.ts). */
export interface WritePolicy {
  /** A manifest may turn writes on (allowManifestWrites); false: only functions.NAME.writes does. */
  readonly allowManifestWrites: boolean;
  /** The gateway's maxUploadBytes: the ceiling when functions.NAME.maxUploadBytes is unset. */
  readonly maxUploadBytes: number;
}

/** Nothing allowed beyond the function's own config: what a caller without a policy gets. */
const CONFIG_ONLY: WritePolicy = { allowManifestWrites: false, maxUploadBytes: Number.MAX_SAFE_INTEGER };

/**
 * A version's upload settings. The config's values are ceilings:
 *  - writes: on only when the manifest does not turn them off and the operator consented, by
 *    functions.NAME.writes or, for a manifest asking for them, allowManifestWrites;
 *  - maxUploadBytes, maxUploadsPerClient: the smaller of the manifest's and the config's
 *    (maxUploadBytes falls back to the gateway's);
 *  - allowOverwrite: only when both say so (replacing objects is the operator's call: a function
 *    picks the bucket and key it writes to).
 */
export function versionWrites(base: FunctionConfig, v: FunctionSettings | undefined, policy: WritePolicy): Pick<FunctionConfig, 'writes' | 'maxUploadBytes' | 'maxUploadsPerClient' | 'allowOverwrite'> {
  const byConfig = { writes: base.writes, maxUploadBytes: base.maxUploadBytes, maxUploadsPerClient: base.maxUploadsPerClient, allowOverwrite: base.allowOverwrite };
  if (!v || (v.writes === undefined && v.maxUploadBytes === undefined && v.maxUploadsPerClient === undefined && v.allowOverwrite === undefined)) return byConfig;
  const maxBytes = base.maxUploadBytes ?? policy.maxUploadBytes;
  return {
    writes: v.writes === undefined ? base.writes : v.writes && (base.writes || policy.allowManifestWrites),
    maxUploadBytes: v.maxUploadBytes === undefined ? base.maxUploadBytes : Math.min(v.maxUploadBytes, maxBytes),
    maxUploadsPerClient: Math.min(v.maxUploadsPerClient ?? base.maxUploadsPerClient, base.maxUploadsPerClient),
    allowOverwrite: (v.allowOverwrite ?? base.allowOverwrite) && base.allowOverwrite,
  };
}

/** True when the version asks for writes and this gateway's config does not let it have them (worth a log line). */
export function writesRefused(base: FunctionConfig, spec: VersionSpec, policy: WritePolicy): boolean {
  return spec.settings?.writes === true && !base.writes && !policy.allowManifestWrites;
}

/**
 * A version's pool settings: the config's for the function, with the settings that travel with
 * the version over them (vars merged, the version's win; uploads narrowed, versionWrites) and
 * the control plane's secrets over the config's. Checked against the config schema's bounds: a
 * record that asks for more fails the load, naming the field, and the previous version keeps
 * serving.
 */
export function versionSettings(base: FunctionConfig, spec: VersionSpec, policy: WritePolicy = CONFIG_ONLY): FunctionConfig {
  const v = spec.settings;
  if (!v && !spec.secrets) return base;
  const merged = {
    ...base,
    ...(v?.poolSize !== undefined ? { poolSize: v.poolSize } : {}),
    ...(v?.heapMb !== undefined ? { heapMb: v.heapMb } : {}),
    ...(v?.timeoutMs !== undefined ? { timeoutMs: v.timeoutMs } : {}),
    ...(v?.maxConcurrent !== undefined ? { maxConcurrent: v.maxConcurrent } : {}),
    ...versionWrites(base, v, policy),
    vars: { ...base.vars, ...v?.vars },
    secrets: { ...base.secrets, ...spec.secrets },
  };
  const parsed = functionConfigSchema.safeParse(merged);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `field "${i.path.join('.')}": ${i.message}`).join('; ');
    throw new Error(`version ${spec.version}: its settings are not usable: ${problems}`);
  }
  return parsed.data;
}
