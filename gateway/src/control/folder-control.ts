/**
 * The control plane over a local folder: the embedded default, so a single box or a laptop
 * gets versions, rollback, canaries, acknowledgements and secrets exactly like the fleet.
 *
 *     <dir>/<name>/versions/<id>/function.mjs       the bundle (hard link to an earlier
 *     <dir>/<name>/versions/<id>/function.mjs.map   version's when the code is the same)
 *     <dir>/<name>/versions/<id>/meta.json          the VersionRecord
 *     <dir>/<name>/rollout.json                     the Rollout
 *     <dir>/<name>/acks/<gateway>.json              each gateway's last GatewayAck
 *     <dir>/<name>/secrets.json                     { KEY: sealed value } (secret-box.ts)
 *     <dir>/<name>/.lock                            held while a rollout, prune or secret changes
 *     <dir>/.presence/<gateway>.json                { presence, ttlMs }: live until mtime + ttlMs
 *
 * Folders written by the deploy store before issue 12 (runtime/deploy-store.ts) stay readable:
 * `<dir>/<name>/<id>/` version folders (meta.json without author or settings) and the
 * `current` pointer, read as the rollout { stable: current } at revision 0 while there is no
 * rollout.json. `.presence` cannot be a function's name (FUNCTION_NAME starts with a letter or
 * digit), nor can `versions` or `acks` be a version id.
 *
 * The deploy store's invariants hold: a version folder is renamed into place whole and never
 * changes afterwards; rollout.json, acks and secrets are replaced by rename of a flushed
 * temporary file, so a reader sees the old state or the new one. watch() polls the rollout
 * files' (mtime, inode, size) every pollMs (200 ms): a rename always brings a new inode.
 */
import { readdirSync, statSync } from 'node:fs';
import { link, mkdir, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { FUNCTION_NAME } from '../config/schema.js';
import {
  ControlPlaneError,
  MAX_VERSIONS,
  type ControlPlane,
  type GatewayAck,
  type GatewayPresence,
  type PublishInput,
  type Rollout,
  type VersionRecord,
} from './control-plane.js';
import { checkPublishInput, verifyBundle } from './bundle-check.js';
import { replaceFile, syncDir, tempSuffix, withFileLock, writeDurable } from './folder-files.js';
import { versionsToPrune } from './retention.js';
import { checkFunctionName, checkRolloutRequest, checkVersionId, rolloutVersions, nextPreviousStable } from './rollout-rules.js';
import { checkGatewayId, checkSecretName } from './names.js';
import { openSecret, sealSecret } from './secret-box.js';
import { formatVersionId, nextVersionMs, VERSION_ID } from './version-id.js';

const BUNDLE_FILE = 'function.mjs'; // runtime/bundle.ts BUNDLE_FILE: what a worker imports
const MAP_FILE = 'function.mjs.map';
const META_FILE = 'meta.json';
const VERSIONS_DIR = 'versions';
const ROLLOUT_FILE = 'rollout.json';
const LEGACY_POINTER = 'current';
const ACKS_DIR = 'acks';
const SECRETS_FILE = 'secrets.json';
const LOCK_FILE = '.lock';
const PRESENCE_DIR = '.presence';
/** Temporary folders older than this are leftovers of a deployer that died; a publish removes them. */
const STALE_TEMP_MS = 60 * 60 * 1000;
/** Presence files this long past their expiry are removed when read. */
const PRESENCE_GC_MS = 24 * 60 * 60 * 1000;

export interface FolderControlOptions {
  /** The fleet's secrets key (secret-box.ts); needed by putSecret and secrets(). */
  secretsKey?: Uint8Array;
  /** How often watch() looks at the rollout files. Default 200. */
  pollMs?: number;
}

/** meta.json as the deploy store wrote it before issue 12. */
interface LegacyMeta {
  name: string;
  version: string;
  sha256: string;
  bytes: number;
  deployedAt: string;
  entry?: string;
}

interface Located {
  record: VersionRecord;
  dir: string;
}

export class FolderControlPlane implements ControlPlane {
  readonly kind = 'folder' as const;
  private readonly secretsKey: Uint8Array | undefined;
  private readonly pollMs: number;
  private readonly listeners = new Set<(name: string) => void>();
  private timer: NodeJS.Timeout | undefined;
  private polling = false;
  /** Each function's rollout files as last seen by watch(): `stat` fingerprints. */
  private seen = new Map<string, string>();
  private closed = false;

  constructor(readonly dir: string, opts: FolderControlOptions = {}) {
    this.secretsKey = opts.secretsKey;
    this.pollMs = opts.pollMs ?? 200;
  }

  async publish(name: string, input: PublishInput, onProgress?: (sentBytes: number, totalBytes: number) => void): Promise<VersionRecord> {
    this.open();
    checkFunctionName(name);
    checkPublishInput(name, input.code, input.sha256);
    const versionsDir = join(this.dir, name, VERSIONS_DIR);
    await mkdir(versionsDir, { recursive: true });
    const same = await this.sameCode(name, input.sha256);
    for (let attempt = 0; ; attempt++) {
      const ids = await this.versionIds(name);
      const ms = nextVersionMs(Date.now(), ids.at(-1));
      const id = formatVersionId(ms, input.sha256);
      const record: VersionRecord = {
        function: name,
        id,
        sha256: input.sha256,
        bytes: input.code.length,
        ...(input.message !== undefined ? { message: input.message } : {}),
        createdAt: new Date(ms).toISOString(),
        author: input.author,
        ...(input.entry !== undefined ? { entry: input.entry } : {}),
        settings: input.settings,
      };
      const temp = join(versionsDir, `.tmp-${id}-${tempSuffix()}`);
      await mkdir(temp);
      try {
        // The same code is stored once: a hard link to the earlier version's file.
        let linked = false;
        if (same) linked = await link(join(same.dir, BUNDLE_FILE), join(temp, BUNDLE_FILE)).then(() => true, () => false);
        if (!linked) await writeDurable(join(temp, BUNDLE_FILE), input.code);
        if (input.map) await writeDurable(join(temp, MAP_FILE), input.map);
        await writeDurable(join(temp, META_FILE), `${JSON.stringify(record, null, 2)}\n`);
        await rename(temp, join(versionsDir, id));
      } catch (e) {
        await rm(temp, { recursive: true, force: true });
        // Another publisher took this id in the same millisecond: take the next one.
        const code = (e as NodeJS.ErrnoException).code;
        if ((code === 'ENOTEMPTY' || code === 'EEXIST') && attempt < 20) continue;
        throw e;
      }
      await syncDir(versionsDir);
      onProgress?.(input.code.length, input.code.length);
      await this.prune(name);
      return record;
    }
  }

  async versions(name: string): Promise<VersionRecord[]> {
    checkFunctionName(name);
    const out: VersionRecord[] = [];
    for (const id of (await this.versionIds(name)).reverse()) {
      // A folder damaged by hand is left out rather than hiding every other version.
      const found = await this.locate(name, id).catch(() => undefined);
      if (found) out.push(found.record);
    }
    return out;
  }

  async version(name: string, id: string): Promise<VersionRecord | undefined> {
    checkFunctionName(name);
    if (!VERSION_ID.test(id)) return undefined;
    return (await this.locate(name, id))?.record;
  }

  async functions(): Promise<string[]> {
    const found: string[] = [];
    for (const name of await listDir(this.dir)) {
      if (FUNCTION_NAME.test(name) && (await this.versionIds(name)).length > 0) found.push(name);
    }
    return found.sort();
  }

  async rollout(name: string): Promise<Rollout | undefined> {
    checkFunctionName(name);
    const fnDir = join(this.dir, name);
    const text = await readIfExists(join(fnDir, ROLLOUT_FILE));
    if (text !== undefined) {
      try {
        return JSON.parse(text) as Rollout;
      } catch (e) {
        throw new ControlPlaneError(`function "${name}": ${join(fnDir, ROLLOUT_FILE)} is not valid JSON (${(e as Error).message}); set it again with "tftpfn rollback ${name} --to VERSION"`);
      }
    }
    // The deploy store's pointer: the rollout before rollouts existed.
    const pointer = await readIfExists(join(fnDir, LEGACY_POINTER));
    if (pointer === undefined) return undefined;
    const stable = pointer.trim();
    if (!VERSION_ID.test(stable)) {
      throw new ControlPlaneError(`function "${name}": ${join(fnDir, LEGACY_POINTER)} holds "${stable.slice(0, 80)}", not a version id; set the rollout with "tftpfn rollback ${name} --to VERSION"`);
    }
    const mtime = (await stat(join(fnDir, LEGACY_POINTER)).catch(() => undefined))?.mtime ?? new Date(0);
    return { stable, revision: 0, updatedAt: mtime.toISOString() };
  }

  async setRollout(name: string, next: { stable: string; canary?: { version: string; percent: number } }): Promise<Rollout> {
    this.open();
    const request = checkRolloutRequest(name, next);
    const fnDir = join(this.dir, name);
    await mkdir(fnDir, { recursive: true });
    return withFileLock(join(fnDir, LOCK_FILE), async () => {
      for (const id of rolloutVersions(request)) {
        if (!(await this.locate(name, id))) {
          throw new ControlPlaneError(`function "${name}" has no version ${id} in ${this.dir}; "tftpfn versions ${name}" lists them`);
        }
      }
      const previous = await this.rollout(name).catch(() => undefined);
      const previousStable = nextPreviousStable(previous, request.stable);
      const rollout: Rollout = {
        ...request,
        ...(previousStable !== undefined ? { previousStable } : {}),
        revision: (previous?.revision ?? 0) + 1,
        updatedAt: new Date().toISOString(),
      };
      await replaceFile(join(fnDir, ROLLOUT_FILE), `${JSON.stringify(rollout, null, 2)}\n`);
      return rollout;
    });
  }

  async fetchBundle(record: VersionRecord): Promise<{ code: Buffer; map?: Buffer }> {
    checkFunctionName(record.function);
    checkVersionId(record.function, record.id);
    const found = await this.locate(record.function, record.id);
    if (!found) throw new ControlPlaneError(`function "${record.function}": version ${record.id} is not in ${this.dir} (pruned?); "tftpfn versions ${record.function}" lists them`);
    const file = join(found.dir, BUNDLE_FILE);
    let code: Buffer;
    try {
      code = await readFile(file);
    } catch (e) {
      throw new ControlPlaneError(`function "${record.function}": version ${record.id}: cannot read ${file} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    }
    verifyBundle(record, code, file);
    const map = await readFile(join(found.dir, MAP_FILE)).catch(() => undefined);
    return map ? { code, map } : { code };
  }

  watch(listener: (name: string) => void): () => void {
    this.open();
    if (this.listeners.size === 0) {
      // The baseline is taken now, synchronously, so a change made right after watch()
      // returns is a change, not the starting state.
      this.seen = this.fingerprintsSync();
      this.timer = setInterval(() => void this.poll(), this.pollMs);
      this.timer.unref();
    }
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
      if (this.listeners.size === 0) this.stopWatching();
    };
  }

  async ack(ack: GatewayAck): Promise<void> {
    checkFunctionName(ack.function);
    checkGatewayId(ack.gateway);
    const dir = join(this.dir, ack.function, ACKS_DIR);
    await mkdir(dir, { recursive: true });
    await replaceFile(join(dir, `${ack.gateway}.json`), `${JSON.stringify(ack)}\n`);
  }

  async acks(name: string): Promise<GatewayAck[]> {
    checkFunctionName(name);
    const dir = join(this.dir, name, ACKS_DIR);
    const out: GatewayAck[] = [];
    for (const file of (await listDir(dir)).filter((f) => f.endsWith('.json')).sort()) {
      const text = await readIfExists(join(dir, file));
      if (text === undefined) continue;
      try {
        out.push(JSON.parse(text) as GatewayAck);
      } catch {
        // a damaged ack is left out; the gateway writes a whole new one on its next change
      }
    }
    return out;
  }

  async heartbeat(presence: GatewayPresence, ttlMs: number): Promise<void> {
    checkGatewayId(presence.gateway);
    if (!Number.isInteger(ttlMs) || ttlMs <= 0) throw new ControlPlaneError(`heartbeat ttlMs must be a whole number of ms above 0, got ${ttlMs}`);
    const dir = join(this.dir, PRESENCE_DIR);
    await mkdir(dir, { recursive: true });
    // The rename gives the file a fresh mtime: live until mtime + ttlMs.
    await replaceFile(join(dir, `${presence.gateway}.json`), `${JSON.stringify({ presence, ttlMs })}\n`);
  }

  async liveGateways(): Promise<GatewayPresence[]> {
    const dir = join(this.dir, PRESENCE_DIR);
    const now = Date.now();
    const out: GatewayPresence[] = [];
    for (const file of (await listDir(dir)).filter((f) => f.endsWith('.json')).sort()) {
      const path = join(dir, file);
      try {
        const [st, text] = await Promise.all([stat(path), readFile(path, 'utf8')]);
        const { presence, ttlMs } = JSON.parse(text) as { presence: GatewayPresence; ttlMs: number };
        if (st.mtimeMs + ttlMs >= now) out.push(presence);
        else if (st.mtimeMs + ttlMs + PRESENCE_GC_MS < now) await rm(path, { force: true });
      } catch {
        // replaced or removed while we read: its next heartbeat counts
      }
    }
    return out;
  }

  async putSecret(name: string, key: string, value: string): Promise<void> {
    checkFunctionName(name);
    checkSecretName(key);
    const sealed = sealSecret(this.requireKey(), name, key, value);
    await this.changeSecrets(name, (all) => {
      all[key] = sealed;
    });
  }

  async deleteSecret(name: string, key: string): Promise<boolean> {
    checkFunctionName(name);
    checkSecretName(key);
    let had = false;
    await this.changeSecrets(name, (all) => {
      had = Object.hasOwn(all, key);
      delete all[key];
    });
    return had;
  }

  async secretNames(name: string): Promise<string[]> {
    checkFunctionName(name);
    return Object.keys(await this.readSecrets(name)).sort();
  }

  async secrets(name: string): Promise<Record<string, string>> {
    checkFunctionName(name);
    const sealed = await this.readSecrets(name);
    if (Object.keys(sealed).length === 0) return {};
    const key = this.requireKey();
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(sealed)) out[k] = openSecret(key, name, k, v);
    return out;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.listeners.clear();
    this.stopWatching();
  }

  // ── internals

  private open(): void {
    if (this.closed) throw new ControlPlaneError('the control plane is closed');
  }

  private stopWatching(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Every version id of a function (both layouts), oldest first. */
  private async versionIds(name: string): Promise<string[]> {
    const fnDir = join(this.dir, name);
    const ids = new Set<string>();
    for (const n of await listDir(join(fnDir, VERSIONS_DIR))) if (VERSION_ID.test(n)) ids.add(n);
    for (const n of await listDir(fnDir)) if (VERSION_ID.test(n)) ids.add(n);
    return [...ids].sort();
  }

  /** A version's record and folder (the issue 12 layout first, then the deploy store's); undefined when absent. */
  private async locate(name: string, id: string): Promise<Located | undefined> {
    const dir = join(this.dir, name, VERSIONS_DIR, id);
    const text = await readIfExists(join(dir, META_FILE));
    if (text !== undefined) {
      const record = JSON.parse(text) as VersionRecord;
      if (record.id !== id || record.function !== name) throw new ControlPlaneError(`${join(dir, META_FILE)} names ${record.function} ${record.id}, not ${name} ${id}`);
      return { record, dir };
    }
    const legacyDir = join(this.dir, name, id);
    const legacy = await readIfExists(join(legacyDir, META_FILE));
    if (legacy === undefined) return undefined;
    const meta = JSON.parse(legacy) as LegacyMeta;
    if (meta.version !== id) throw new ControlPlaneError(`${join(legacyDir, META_FILE)} names version ${meta.version}, not ${id}`);
    return {
      dir: legacyDir,
      record: {
        function: name,
        id,
        sha256: meta.sha256,
        bytes: meta.bytes,
        createdAt: meta.deployedAt,
        // Deployed before versions recorded who and with which settings.
        author: 'unknown',
        ...(meta.entry !== undefined ? { entry: meta.entry } : {}),
        settings: {},
      },
    };
  }

  /** A stored version with this code (for a hard link), found by the id's sha prefix, then the record's full sha. */
  private async sameCode(name: string, sha256: string): Promise<Located | undefined> {
    const ids = (await listDir(join(this.dir, name, VERSIONS_DIR))).filter((n) => VERSION_ID.test(n) && n.endsWith(`-${sha256.slice(0, 8)}`));
    for (const id of ids.sort().reverse()) {
      const found = await this.locate(name, id).catch(() => undefined);
      if (found?.record.sha256 === sha256) return found;
    }
    return undefined;
  }

  /** Keeps at most MAX_VERSIONS, never one the rollout names; leftovers of dead deployers go too. */
  private async prune(name: string): Promise<void> {
    const fnDir = join(this.dir, name);
    await withFileLock(join(fnDir, LOCK_FILE), async () => {
      const keep = new Set(rolloutVersions(await this.rollout(name).catch(() => undefined)));
      for (const id of versionsToPrune(await this.versionIds(name), keep, MAX_VERSIONS)) {
        for (const dir of [join(fnDir, VERSIONS_DIR, id), join(fnDir, id)]) {
          // Renamed away first, so a reader never finds a half-deleted version under its id.
          const trash = join(fnDir, `.trash-${id}-${tempSuffix()}`);
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
    for (const dir of [fnDir, join(fnDir, VERSIONS_DIR)]) {
      for (const n of await listDir(dir)) {
        if (!n.startsWith('.tmp-') && !n.startsWith('.trash-')) continue;
        const st = await stat(join(dir, n)).catch(() => undefined);
        if (st && now - st.mtimeMs > STALE_TEMP_MS) await rm(join(dir, n), { recursive: true, force: true });
      }
    }
  }

  private requireKey(): Uint8Array {
    if (!this.secretsKey) {
      throw new ControlPlaneError('no secrets key: set secretsKey (TFTPFN_SECRETS_KEY) or secretsKeyFile to the fleet\'s key; make one with `openssl rand -hex 32`');
    }
    return this.secretsKey;
  }

  private async readSecrets(name: string): Promise<Record<string, string>> {
    const path = join(this.dir, name, SECRETS_FILE);
    const text = await readIfExists(path);
    if (text === undefined) return {};
    try {
      return JSON.parse(text) as Record<string, string>;
    } catch (e) {
      throw new ControlPlaneError(`function "${name}": ${path} is not valid JSON (${(e as Error).message})`);
    }
  }

  private async changeSecrets(name: string, change: (all: Record<string, string>) => void): Promise<void> {
    const fnDir = join(this.dir, name);
    await mkdir(fnDir, { recursive: true });
    await withFileLock(join(fnDir, LOCK_FILE), async () => {
      const all = await this.readSecrets(name);
      change(all);
      await replaceFile(join(fnDir, SECRETS_FILE), `${JSON.stringify(all, null, 2)}\n`);
    });
  }

  private async poll(): Promise<void> {
    if (this.polling || this.closed) return;
    this.polling = true;
    try {
      const now = await this.fingerprints();
      const changed: string[] = [];
      for (const [name, print] of now) if (this.seen.get(name) !== print) changed.push(name);
      this.seen = now;
      for (const name of changed) {
        for (const l of [...this.listeners]) {
          try {
            l(name);
          } catch {
            // a listener's throw must not stop the others or the poll
          }
        }
      }
    } catch {
      // the folder is unreadable this time; the next poll tries again
    } finally {
      this.polling = false;
    }
  }

  private async fingerprints(): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    for (const name of await listDir(this.dir)) {
      if (!FUNCTION_NAME.test(name)) continue;
      const [a, b] = await Promise.all([stat(join(this.dir, name, ROLLOUT_FILE)).catch(() => undefined), stat(join(this.dir, name, LEGACY_POINTER)).catch(() => undefined)]);
      if (a || b) out.set(name, `${printOf(a)}|${printOf(b)}`);
    }
    return out;
  }

  private fingerprintsSync(): Map<string, string> {
    const out = new Map<string, string>();
    let names: string[];
    try {
      names = readdirSync(this.dir);
    } catch {
      return out;
    }
    const statOr = (p: string) => {
      try {
        return statSync(p);
      } catch {
        return undefined;
      }
    };
    for (const name of names) {
      if (!FUNCTION_NAME.test(name)) continue;
      const a = statOr(join(this.dir, name, ROLLOUT_FILE));
      const b = statOr(join(this.dir, name, LEGACY_POINTER));
      if (a || b) out.set(name, `${printOf(a)}|${printOf(b)}`);
    }
    return out;
  }
}

function printOf(st: { mtimeMs: number; ino: number; size: number } | undefined): string {
  return st ? `${st.mtimeMs}:${st.ino}:${st.size}` : '-';
}

async function listDir(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return [];
    throw e;
  }
}

async function readIfExists(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw e;
  }
}
