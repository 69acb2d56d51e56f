/**
 * The settings a version's worker pool runs with (issue 12): the operator's config for the
 * function (`functions.NAME`), with what travels with the version over it — the manifest's vars,
 * poolSize, heapMb, timeoutMs and maxConcurrent from its VersionRecord — and the control plane's
 * secrets over the config's. Pure; function-runtime.ts calls it for every load, so each version
 * runs with its own settings, and a canary beside the stable one with its own.
 */
import { functionConfigSchema, type FunctionConfig } from '../config/schema.js';
import type { VersionSpec } from './version-sources.js';

/**
 * A version's pool settings: the config's for the function, with the settings that travel with
 * the version over them (vars merged, the version's win) and the control plane's secrets over
 * the config's. Checked against the config schema's bounds: a record that asks for more fails
 * the load, naming the field, and the previous version keeps serving.
 */
export function versionSettings(base: FunctionConfig, spec: VersionSpec): FunctionConfig {
  const v = spec.settings;
  if (!v && !spec.secrets) return base;
  const merged = {
    ...base,
    ...(v?.poolSize !== undefined ? { poolSize: v.poolSize } : {}),
    ...(v?.heapMb !== undefined ? { heapMb: v.heapMb } : {}),
    ...(v?.timeoutMs !== undefined ? { timeoutMs: v.timeoutMs } : {}),
    ...(v?.maxConcurrent !== undefined ? { maxConcurrent: v.maxConcurrent } : {}),
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

