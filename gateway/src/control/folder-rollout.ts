/**
 * The folder control plane's rollouts: `<dir>/<name>/rollout.json`, replaced whole by rename
 * (a reader sees the old rollout or the new), its revision bumped under the function's lock
 * file (folder-files.ts withFileLock), which a publish's pruning holds too: so two deployers
 * never write the same revision, and a version being named by a new rollout is never pruned
 * meanwhile. Without rollout.json, the deploy store's `current` pointer stands for it
 * (folder-legacy.ts).
 */
import { mkdir } from 'node:fs/promises';
import { ControlPlaneError, type Rollout } from './control-plane.js';
import { readIfExists, replaceFile, withFileLock } from './folder-files.js';
import { functionPaths } from './folder-layout.js';
import { legacyRollout } from './folder-legacy.js';
import { nextPreviousStable, rolloutVersions, type RolloutRequest } from './rollout-rules.js';

export async function readRollout(dir: string, name: string): Promise<Rollout | undefined> {
  const paths = functionPaths(dir, name);
  const text = await readIfExists(paths.rollout);
  if (text !== undefined) {
    try {
      return JSON.parse(text) as Rollout;
    } catch (e) {
      throw new ControlPlaneError(`function "${name}": ${paths.rollout} is not valid JSON (${(e as Error).message}); set it again with "tftpfn rollback ${name} --to VERSION"`);
    }
  }
  // The deploy store's pointer: the rollout before rollouts existed.
  return legacyRollout(name, paths.pointer);
}

/** Writes the checked `request` as revision + 1, once `exists` says every version it names is stored. */
export async function writeRollout(dir: string, name: string, request: RolloutRequest, exists: (id: string) => Promise<boolean>): Promise<Rollout> {
  const paths = functionPaths(dir, name);
  await mkdir(paths.dir, { recursive: true });
  return withFileLock(paths.lock, async () => {
    for (const id of rolloutVersions(request)) {
      if (!(await exists(id))) {
        throw new ControlPlaneError(`function "${name}" has no version ${id} in ${dir}; "tftpfn versions ${name}" lists them`);
      }
    }
    const previous = await readRollout(dir, name).catch(() => undefined);
    const previousStable = nextPreviousStable(previous, request.stable);
    const rollout: Rollout = {
      ...request,
      ...(previousStable !== undefined ? { previousStable } : {}),
      revision: (previous?.revision ?? 0) + 1,
      updatedAt: new Date().toISOString(),
    };
    await replaceFile(paths.rollout, `${JSON.stringify(rollout, null, 2)}\n`);
    return rollout;
  });
}
