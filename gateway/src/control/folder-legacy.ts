/**
 * Reading what the deploy store wrote before issue 12 (runtime/deploy-store.ts), so a deploy
 * folder from an older tftpfn keeps serving after the upgrade: its `<dir>/<name>/<id>/` version
 * folders (meta.json without author or settings) become VersionRecords, and its `current`
 * pointer is the rollout { stable: current } at revision 0 while there is no rollout.json
 * (the first setRollout writes revision 1). Nothing here writes the old layout.
 */
import { stat } from 'node:fs/promises';
import { ControlPlaneError, type Rollout, type VersionRecord } from './control-plane.js';
import { readIfExists } from './folder-files.js';
import { VERSION_ID } from './version-id.js';

/** meta.json as the deploy store writes it (runtime/deploy-store.ts), the only meta before issue 12. */
export interface LegacyMeta {
  name: string;
  version: string;
  sha256: string;
  bytes: number;
  deployedAt: string;
  entry?: string;
}

/** The record of a deploy-store version folder's meta.json (`metaPath`, for errors). */
export function legacyRecord(name: string, id: string, metaText: string, metaPath: string): VersionRecord {
  const meta = JSON.parse(metaText) as LegacyMeta;
  if (meta.version !== id) throw new ControlPlaneError(`${metaPath} names version ${meta.version}, not ${id}`);
  return {
    function: name,
    id,
    sha256: meta.sha256,
    bytes: meta.bytes,
    createdAt: meta.deployedAt,
    // Deployed before versions recorded who and with which settings.
    author: 'unknown',
    ...(meta.entry !== undefined ? { entry: meta.entry } : {}),
    settings: {},
  };
}

/** The rollout the deploy store's `current` pointer at `pointerPath` stands for; undefined without one. */
export async function legacyRollout(name: string, pointerPath: string): Promise<Rollout | undefined> {
  const pointer = await readIfExists(pointerPath);
  if (pointer === undefined) return undefined;
  const stable = pointer.trim();
  if (!VERSION_ID.test(stable)) {
    throw new ControlPlaneError(`function "${name}": ${pointerPath} holds "${stable.slice(0, 80)}", not a version id; set the rollout with "tftpfn rollback ${name} --to VERSION"`);
  }
  const mtime = (await stat(pointerPath).catch(() => undefined))?.mtime ?? new Date(0);
  return { stable, revision: 0, updatedAt: mtime.toISOString() };
}
