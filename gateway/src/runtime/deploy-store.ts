/**
 * The deploy folder: every published version of every function, and a pointer to the one in
 * service.
 *
 *     <dir>/<name>/<version>/function.mjs        the bundle (bundleFunction's code)
 *     <dir>/<name>/<version>/function.mjs.map    its source map
 *     <dir>/<name>/<version>/meta.json           { name, version, sha256, bytes, deployedAt, entry }
 *     <dir>/<name>/current                       the current version id, one line
 *
 * Several gateway processes poll this folder and several deployers may write to it, with no
 * lock. Two invariants make that safe:
 *  - a version folder is written under a temporary name and renamed into place complete, so a
 *    version that exists is whole; nothing ever changes inside it afterwards;
 *  - `current` is only ever replaced by rename(2) of a fully written temporary file, which is
 *    atomic on POSIX: a reader sees the old id or the new one, never a torn one, and the
 *    version it names was in place before the pointer moved. Concurrent publishes each rename
 *    their own pointer: the last rename wins and every state in between is valid.
 * Version ids are `YYYYMMDDTHHMMSSmmmZ-<first 8 hex of sha256>`: they sort by deploy time and
 * differ for different code deployed in the same millisecond.
 */
import { mkdir, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { FUNCTION_NAME } from '../config/schema.js';
import { replaceFile, syncDir, tempSuffix, writeDurable } from '../control/folder-files.js';
import type { LegacyMeta as Meta } from '../control/folder-legacy.js';
import { formatVersionId, nextVersionMs, VERSION_ID } from '../control/version-id.js';
import { BUNDLE_FILE, MAP_FILE, type BuiltBundle } from './bundle.js';

export const META_FILE = 'meta.json';
export const CURRENT_FILE = 'current';

/** Temporary folders older than this are leftovers of a deployer that died; prune removes them. */
const STALE_TEMP_MS = 60 * 60 * 1000;

export interface DeployedVersion {
  name: string;
  version: string;
  /** The version folder. */
  dir: string;
  /** Its function.mjs: what a worker imports. */
  bundlePath: string;
  sha256: string;
  bytes: number;
  /** ISO 8601. */
  deployedAt: string;
  /** The source file it was built from, as the deployer named it. */
  entry?: string;
}

export class DeployStore {
  constructor(readonly dir: string) {}

  /**
   * Stores a bundle as a new version and makes it current. Code byte-identical to the current
   * version is not stored again: that version is returned with `unchanged: true`.
   */
  async publish(name: string, bundle: BuiltBundle): Promise<{ deployed: DeployedVersion; unchanged: boolean }> {
    const fnDir = this.functionDir(name);
    await mkdir(fnDir, { recursive: true });
    let current: DeployedVersion | undefined;
    try {
      current = await this.current(name);
    } catch {
      // A broken pointer is exactly what a fresh publish repairs.
    }
    if (current && current.sha256 === bundle.sha256) return { deployed: current, unchanged: true };

    const now = await this.nextDeployTime(name);
    const version = formatVersionId(now.getTime(), bundle.sha256);
    const meta: Meta = { name, version, sha256: bundle.sha256, bytes: bundle.bytes, deployedAt: now.toISOString(), entry: bundle.entry };
    const temp = join(fnDir, `.tmp-${version}-${tempSuffix()}`);
    await mkdir(temp);
    try {
      await writeDurable(join(temp, BUNDLE_FILE), bundle.code);
      await writeDurable(join(temp, MAP_FILE), bundle.map);
      await writeDurable(join(temp, META_FILE), `${JSON.stringify(meta, null, 2)}\n`);
      await rename(temp, join(fnDir, version));
    } catch (e) {
      await rm(temp, { recursive: true, force: true });
      // The same code published by someone else in the same millisecond: the same version id,
      // already complete in place, so ours is redundant.
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw e;
      const existing = await this.readVersion(name, version);
      if (existing.sha256 !== bundle.sha256) throw e;
    }
    await syncDir(fnDir);
    await this.writePointer(name, version);
    return { deployed: this.toDeployed(meta), unchanged: false };
  }

  /**
   * The version `current` points at; undefined when the function has never been deployed.
   * Throws when the pointer names a version that is missing or incomplete.
   */
  async current(name: string): Promise<DeployedVersion | undefined> {
    const fnDir = this.functionDir(name);
    let id: string;
    try {
      id = (await readFile(join(fnDir, CURRENT_FILE), 'utf8')).trim();
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
    if (!VERSION_ID.test(id)) {
      throw new Error(`deploy folder ${fnDir}: ${CURRENT_FILE} holds "${id.slice(0, 80)}", not a version id; deploy again or run "tftpfn deploy --name ${name} --activate <version>"`);
    }
    return this.readVersion(name, id);
  }

  /** Names of the functions that have a current version, sorted. */
  async functions(): Promise<string[]> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw e;
    }
    const found: string[] = [];
    for (const name of names) {
      if (!FUNCTION_NAME.test(name)) continue;
      if (await exists(join(this.dir, name, CURRENT_FILE))) found.push(name);
    }
    return found.sort();
  }

  /** Every complete version of a function, oldest first. */
  async versions(name: string): Promise<DeployedVersion[]> {
    const out: DeployedVersion[] = [];
    for (const id of await this.versionIds(name)) {
      try {
        out.push(await this.readVersion(name, id));
      } catch {
        // A folder damaged by hand is left out of the list rather than hiding every other
        // version; current() and activate() name the problem when it matters.
      }
    }
    return out;
  }

  /** Points `current` at an existing version: a rollback, or a roll forward again. */
  async activate(name: string, version: string): Promise<DeployedVersion> {
    this.functionDir(name);
    if (!VERSION_ID.test(version)) {
      throw new Error(`"${version}" is not a version id (like 20250101T120000000Z-1a2b3c4d); "tftpfn deploy --list --name ${name}" shows them`);
    }
    if (!(await exists(join(this.functionDir(name), version)))) {
      throw new Error(`function "${name}" has no version ${version} in ${this.dir}; "tftpfn deploy --list --name ${name}" shows the versions there`);
    }
    const deployed = await this.readVersion(name, version);
    await this.writePointer(name, version);
    return deployed;
  }

  /**
   * Deletes old versions, keeping the current one and the newest `keep`; returns the ids
   * deleted. Gateways that already loaded a deleted version keep running it from memory.
   */
  async prune(name: string, keep: number): Promise<string[]> {
    if (!Number.isInteger(keep) || keep < 0) throw new Error(`keep must be a whole number >= 0, got ${keep}`);
    const fnDir = this.functionDir(name);
    const ids = await this.versionIds(name);
    let currentId: string | undefined;
    try {
      currentId = (await readFile(join(fnDir, CURRENT_FILE), 'utf8')).trim();
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    const kept = new Set(ids.slice(Math.max(0, ids.length - keep)));
    if (currentId) kept.add(currentId);
    const deleted: string[] = [];
    for (const id of ids) {
      if (kept.has(id)) continue;
      // Renamed away first, so a reader never finds a half-deleted version under its id.
      const trash = join(fnDir, `.trash-${id}-${tempSuffix()}`);
      try {
        await rename(join(fnDir, id), trash);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue; // another pruner was first
        throw e;
      }
      await rm(trash, { recursive: true, force: true });
      deleted.push(id);
    }
    await this.removeStaleTemps(fnDir);
    return deleted;
  }

  /**
   * Now, or just after the newest existing version when that is not older (deploys within one
   * millisecond, or a clock stepped back), so ids sort in the order versions were published.
   */
  private async nextDeployTime(name: string): Promise<Date> {
    const now = Date.now();
    return new Date(nextVersionMs(now, (await this.versionIds(name)).at(-1)));
  }

  private functionDir(name: string): string {
    // The name becomes a path segment: the pattern also keeps out "..", "/" and the like.
    if (typeof name !== 'string' || !FUNCTION_NAME.test(name)) {
      throw new Error(`invalid function name "${String(name)}": use letters, digits, - and _ (at most 63), starting with a letter or digit, e.g. "grub"`);
    }
    return join(this.dir, name);
  }

  private async versionIds(name: string): Promise<string[]> {
    try {
      return (await readdir(this.functionDir(name))).filter((n) => VERSION_ID.test(n)).sort();
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw e;
    }
  }

  private async readVersion(name: string, version: string): Promise<DeployedVersion> {
    const versionDir = join(this.functionDir(name), version);
    const fix = `deploy again, or run "tftpfn deploy --name ${name} --activate <version>" with a version from "tftpfn deploy --list --name ${name}"`;
    let meta: Meta;
    try {
      meta = JSON.parse(await readFile(join(versionDir, META_FILE), 'utf8')) as Meta;
    } catch (e) {
      const why = (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'is missing' : `is unreadable (${(e as Error).message})`;
      throw new Error(`function "${name}": version ${version} is not usable: ${join(versionDir, META_FILE)} ${why} (pruned, or damaged outside tftpfn); ${fix}`);
    }
    let size: number | undefined;
    try {
      size = (await stat(join(versionDir, BUNDLE_FILE))).size;
    } catch {
      // reported below
    }
    if (size !== meta.bytes || meta.version !== version) {
      throw new Error(`function "${name}": version ${version} is not usable: ${join(versionDir, BUNDLE_FILE)} ${size === undefined ? 'is missing' : `has ${size} bytes, meta.json says ${meta.bytes}`}; ${fix}`);
    }
    return this.toDeployed(meta);
  }

  private toDeployed(meta: Meta): DeployedVersion {
    const dir = join(this.dir, meta.name, meta.version);
    return {
      name: meta.name,
      version: meta.version,
      dir,
      bundlePath: join(dir, BUNDLE_FILE),
      sha256: meta.sha256,
      bytes: meta.bytes,
      deployedAt: meta.deployedAt,
      ...(meta.entry !== undefined ? { entry: meta.entry } : {}),
    };
  }

  private async writePointer(name: string, version: string): Promise<void> {
    await replaceFile(join(this.functionDir(name), CURRENT_FILE), `${version}\n`);
  }

  private async removeStaleTemps(fnDir: string): Promise<void> {
    const now = Date.now();
    for (const n of await readdir(fnDir)) {
      if (!n.startsWith('.tmp-') && !n.startsWith('.trash-') && !n.startsWith(`${CURRENT_FILE}.tmp-`)) continue;
      try {
        if (now - (await stat(join(fnDir, n))).mtimeMs > STALE_TEMP_MS) await rm(join(fnDir, n), { recursive: true, force: true });
      } catch {
        // gone already
      }
    }
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}
