/**
 * The folder control plane's version storage (folder-layout.ts): each version a folder of its
 * own, written under a temporary name and renamed into place whole, never changed afterwards;
 * the same code is stored once (a hard link to the earlier version's bundle). Ids strictly
 * increase (version-id.ts); two publishers that pick the same id in one millisecond meet at the
 * rename, and the loser takes the next one. Versions of the deploy store's layout are read
 * too (folder-legacy.ts), so both count in the listing and in retention.
 */
import { link, mkdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { ControlPlaneError, MAX_VERSIONS, type PublishInput, type Rollout, type VersionRecord } from './control-plane.js';
import { listDir, readIfExists, syncDir, tempSuffix, withFileLock, writeDurable } from './folder-files.js';
import { BUNDLE_FILE, functionPaths, MAP_FILE, META_FILE } from './folder-layout.js';
import { legacyRecord } from './folder-legacy.js';
import { versionsToPrune } from './retention.js';
import { rolloutVersions } from './rollout-rules.js';
import { nextVersionMs, VERSION_ID } from './version-id.js';
import { newVersionRecord } from './version-record.js';

/** Temporary folders older than this are leftovers of a deployer that died; a publish removes them. */
const STALE_TEMP_MS = 60 * 60 * 1000;

/** A stored version: its record and its folder (where BUNDLE_FILE and MAP_FILE are). */
export interface Located {
  record: VersionRecord;
  dir: string;
}

export class FolderVersions {
  constructor(private readonly dir: string) {}

  /** Writes a new version folder and returns its record; the caller has checked the input. */
  async write(name: string, input: PublishInput): Promise<VersionRecord> {
    const versionsDir = functionPaths(this.dir, name).versions;
    await mkdir(versionsDir, { recursive: true });
    const same = await this.sameCode(name, input.sha256);
    for (let attempt = 0; ; attempt++) {
      const ids = await this.ids(name);
      const record = newVersionRecord(name, input, nextVersionMs(Date.now(), ids.at(-1)));
      const temp = join(versionsDir, `.tmp-${record.id}-${tempSuffix()}`);
      await mkdir(temp);
      try {
        // The same code is stored once: a hard link to the earlier version's file.
        let linked = false;
        if (same) linked = await link(join(same.dir, BUNDLE_FILE), join(temp, BUNDLE_FILE)).then(() => true, () => false);
        if (!linked) await writeDurable(join(temp, BUNDLE_FILE), input.code);
        if (input.map) await writeDurable(join(temp, MAP_FILE), input.map);
        await writeDurable(join(temp, META_FILE), `${JSON.stringify(record, null, 2)}\n`);
        await rename(temp, join(versionsDir, record.id));
      } catch (e) {
        await rm(temp, { recursive: true, force: true });
        // Another publisher took this id in the same millisecond: take the next one.
        const code = (e as NodeJS.ErrnoException).code;
        if ((code === 'ENOTEMPTY' || code === 'EEXIST') && attempt < 20) continue;
        throw e;
      }
      await syncDir(versionsDir);
      return record;
    }
  }

  /** Every version id of a function (both layouts), oldest first. */
  async ids(name: string): Promise<string[]> {
    const paths = functionPaths(this.dir, name);
    const ids = new Set<string>();
    for (const n of await listDir(paths.versions)) if (VERSION_ID.test(n)) ids.add(n);
    for (const n of await listDir(paths.dir)) if (VERSION_ID.test(n)) ids.add(n);
    return [...ids].sort();
  }

  /** A version's record and folder (the issue 12 layout first, then the deploy store's); undefined when absent. */
  async locate(name: string, id: string): Promise<Located | undefined> {
    const paths = functionPaths(this.dir, name);
    const dir = paths.version(id);
    const text = await readIfExists(join(dir, META_FILE));
    if (text !== undefined) {
      const record = JSON.parse(text) as VersionRecord;
      if (record.id !== id || record.function !== name) throw new ControlPlaneError(`${join(dir, META_FILE)} names ${record.function} ${record.id}, not ${name} ${id}`);
      return { record, dir };
    }
    const legacyDir = paths.legacyVersion(id);
    const legacy = await readIfExists(join(legacyDir, META_FILE));
    if (legacy === undefined) return undefined;
    return { dir: legacyDir, record: legacyRecord(name, id, legacy, join(legacyDir, META_FILE)) };
  }

  /**
   * Keeps at most MAX_VERSIONS, never one the rollout names (read under the function's lock,
   * which setRollout holds too); leftovers of dead deployers go too.
   */
  async prune(name: string, rolloutOf: (name: string) => Promise<Rollout | undefined>): Promise<void> {
    const paths = functionPaths(this.dir, name);
    await withFileLock(paths.lock, async () => {
      const keep = new Set(rolloutVersions(await rolloutOf(name).catch(() => undefined)));
      for (const id of versionsToPrune(await this.ids(name), keep, MAX_VERSIONS)) {
        for (const dir of [paths.version(id), paths.legacyVersion(id)]) {
          // Renamed away first, so a reader never finds a half-deleted version under its id.
          const trash = join(paths.dir, `.trash-${id}-${tempSuffix()}`);
          try {
            await rename(dir, trash);
          } catch (e) {
            if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue;
            throw e;
          }
          await rm(trash, { recursive: true, force: true });
        }
      }
    });
    const now = Date.now();
    for (const dir of [paths.dir, paths.versions]) {
      for (const n of await listDir(dir)) {
        if (!n.startsWith('.tmp-') && !n.startsWith('.trash-')) continue;
        const st = await stat(join(dir, n)).catch(() => undefined);
        if (st && now - st.mtimeMs > STALE_TEMP_MS) await rm(join(dir, n), { recursive: true, force: true });
      }
    }
  }

  /** A stored version with this code (for a hard link), found by the id's sha prefix, then the record's full sha. */
  private async sameCode(name: string, sha256: string): Promise<Located | undefined> {
    const ids = (await listDir(functionPaths(this.dir, name).versions)).filter((n) => VERSION_ID.test(n) && n.endsWith(`-${sha256.slice(0, 8)}`));
    for (const id of ids.sort().reverse()) {
      const found = await this.locate(name, id).catch(() => undefined);
      if (found?.record.sha256 === sha256) return found;
    }
    return undefined;
  }
}
