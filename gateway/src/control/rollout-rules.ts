/**
 * What a rollout may say, checked before either control plane stores it: a stable version,
 * and a canary that is another version for a whole percent of clients from 1 to 99 (0 is
 * "no canary", 100 is "promote": `tftpfn rollout NAME --abort` / `--promote`).
 */
import { FUNCTION_NAME } from '../config/schema.js';
import { ControlPlaneError, type Rollout } from './control-plane.js';
import { VERSION_ID } from './version-id.js';

export interface RolloutRequest {
  stable: string;
  canary?: { version: string; percent: number };
}

export function checkFunctionName(name: string): void {
  // The name becomes a path segment and a Redis hash tag: the pattern keeps out "..", "/", "{" and "}".
  if (typeof name !== 'string' || !FUNCTION_NAME.test(name)) {
    throw new ControlPlaneError(`invalid function name "${String(name)}": use letters, digits, - and _ (at most 63), starting with a letter or digit, e.g. "grub"`);
  }
}

export function checkVersionId(name: string, id: string): void {
  if (typeof id !== 'string' || !VERSION_ID.test(id)) {
    throw new ControlPlaneError(`function "${name}": "${String(id)}" is not a version id (like 20250101T120000000Z-1a2b3c4d); "tftpfn versions ${name}" lists them`);
  }
}

/** Throws a ControlPlaneError naming what is wrong; returns the request without extra fields. */
export function checkRolloutRequest(name: string, next: RolloutRequest): RolloutRequest {
  checkFunctionName(name);
  checkVersionId(name, next.stable);
  if (next.canary === undefined) return { stable: next.stable };
  const { version, percent } = next.canary;
  checkVersionId(name, version);
  if (!Number.isInteger(percent) || percent < 1 || percent > 99) {
    throw new ControlPlaneError(
      `function "${name}": canary percent ${String(percent)} is out of range: use a whole number from 1 to 99 (abort the canary to send nobody, promote it to send everyone)`,
    );
  }
  if (version === next.stable) throw new ControlPlaneError(`function "${name}": the canary ${version} is already the stable version; promote it or pick another version`);
  return { stable: next.stable, canary: { version, percent } };
}

/** The versions a rollout names (never pruned). */
export function rolloutVersions(r: Pick<Rollout, 'stable' | 'canary'> | undefined): string[] {
  if (!r) return [];
  return r.canary ? [r.stable, r.canary.version] : [r.stable];
}

/**
 * The stable version before the last change of stable (what `tftpfn rollback` goes back to):
 * the current stable when the next rollout changes it, else the one already remembered (a
 * canary or a promote of the same stable does not move it).
 */
export function nextPreviousStable(current: Pick<Rollout, 'stable' | 'previousStable'> | undefined, nextStable: string): string | undefined {
  if (!current) return undefined;
  return current.stable !== nextStable ? current.stable : current.previousStable;
}
