/**
 * The fleet source's local disk cache (config `controlCacheDir`; issue 12): the bundles this
 * gateway fetched, and per function what it last served, so that a gateway started while Redis
 * or the bucket is down serves the versions it served before instead of nothing.
 *
 *     <dir>/<fn>/<sha256>/function.mjs        a bundle, by content, verified before it was written
 *     <dir>/<fn>/<sha256>/function.mjs.map    its source map, when the control plane had one
 *     <dir>/<fn>/served.json                  { revision, stable: VersionRecord, canary?: { record, percent }, at }
 *     <dir>/<fn>/secrets.enc                  the function's secrets, AES-256-GCM (absent without secrets)
 *
 * Several gateway processes of one box may share the folder (`processes` > 1, or gateways of one
 * fleet): every file is written under a temporary name and renamed into place, so a reader sees a
 * whole file or none, and a bundle folder, named by its hash, is the same whoever wrote it. The
 * bundle is hashed again when read for a start from cache (a disk can rot).
 *
 * Secrets never touch the disk in clear: they are sealed with a key derived from the fleet's
 * secrets key (the one the control plane opens them with), so the cache is no easier to read
 * than Redis. Without a secrets key there are no secrets to keep.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { VersionRecord } from '../control/control-plane.js';
import { BUNDLE_FILE, MAP_FILE } from './bundle.js';
import { FUNCTION_NAME } from '../config/checks.js';

export const SERVED_FILE = 'served.json';
const SECRETS_FILE = 'secrets.enc';
/** Bundle folders kept per function besides the ones served: enough for a quick rollback offline. */
const KEEP_OTHER_BUNDLES = 4;

/** What a gateway last served of one function. */
export interface ServedState {
  readonly revision: number;
  readonly stable: VersionRecord;
  readonly canary?: { readonly record: VersionRecord; readonly percent: number };
  /** ISO 8601. */
  readonly at: string;
}

const tmpName = (path: string) => `${path}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;

/** Bundles are read by sandboxed workers running as another user (the sandbox copies them with their mode): 0644. Records and secrets: 0600. */
async function writeAtomic(path: string, data: string | Uint8Array, mode = 0o600): Promise<void> {
  const tmp = tmpName(path);
  await writeFile(tmp, data, { mode });
  await rename(tmp, path);
}

const sha256Hex = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

export class FleetCache {
  private readonly sealKey: Buffer | undefined;

  /** `secretsKey`: the fleet's secrets key (32 bytes), from which the cache's own sealing key is derived. */
  constructor(readonly dir: string, secretsKey?: Buffer) {
    this.sealKey = secretsKey && createHash('sha256').update('tftpfn control cache secrets\0').update(secretsKey).digest();
  }

  private fnDir(fn: string): string {
    if (!FUNCTION_NAME.test(fn)) throw new Error(`not a function name: ${JSON.stringify(fn)}`);
    return join(this.dir, fn);
  }

  /** Where the bundle of `sha256` is (or would be) cached. */
  bundlePath(fn: string, sha256: string): string {
    if (!/^[0-9a-f]{64}$/.test(sha256)) throw new Error(`not a sha256: ${JSON.stringify(sha256)}`);
    return join(this.fnDir(fn), sha256, BUNDLE_FILE);
  }

  async hasBundle(fn: string, sha256: string): Promise<boolean> {
    try {
      return (await stat(this.bundlePath(fn, sha256))).isFile();
    } catch {
      return false;
    }
  }

  /** Writes a bundle whose hash was checked (and checks it again: the folder is named by it); returns its path. */
  async putBundle(fn: string, sha256: string, code: Uint8Array, map?: Uint8Array): Promise<string> {
    if (sha256Hex(code) !== sha256) throw new Error(`${fn}: the bundle's sha256 is not ${sha256}; not cached`);
    const path = this.bundlePath(fn, sha256);
    const folder = join(this.fnDir(fn), sha256);
    await mkdir(folder, { recursive: true });
    if (map) await writeAtomic(join(folder, MAP_FILE), map, 0o644);
    await writeAtomic(path, code, 0o644);
    return path;
  }

  /** The cached bundle's path when its bytes still hash to `sha256`; undefined when missing or damaged. */
  async verifiedBundle(fn: string, sha256: string): Promise<string | undefined> {
    const path = this.bundlePath(fn, sha256);
    try {
      return sha256Hex(await readFile(path)) === sha256 ? path : undefined;
    } catch {
      return undefined;
    }
  }

  /** Records what this gateway now serves, with the secrets its pools were given. */
  async putServed(fn: string, state: ServedState, secrets: Readonly<Record<string, string>>): Promise<void> {
    const dir = this.fnDir(fn);
    await mkdir(dir, { recursive: true });
    const secretsPath = join(dir, SECRETS_FILE);
    if (Object.keys(secrets).length > 0 && this.sealKey) await writeAtomic(secretsPath, this.seal(JSON.stringify(secrets)));
    else await rm(secretsPath, { force: true });
    await writeAtomic(join(dir, SERVED_FILE), `${JSON.stringify(state, null, 2)}\n`);
    await this.prune(fn, state);
  }

  /** What this gateway last served of `fn`, and its secrets; undefined when nothing was cached. */
  async served(fn: string): Promise<{ state: ServedState; secrets: Record<string, string> } | undefined> {
    const dir = this.fnDir(fn);
    let state: ServedState;
    try {
      state = JSON.parse(await readFile(join(dir, SERVED_FILE), 'utf8')) as ServedState;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new Error(`${join(dir, SERVED_FILE)} cannot be read: ${(e as Error).message}`);
    }
    let secrets: Record<string, string> = {};
    let sealed: Buffer | undefined;
    try {
      sealed = await readFile(join(dir, SECRETS_FILE));
    } catch {
      /* no secrets were cached */
    }
    if (sealed) {
      if (!this.sealKey) throw new Error(`${fn}: its cached secrets need the secrets key (secretsKey or secretsKeyFile)`);
      secrets = JSON.parse(this.open(sealed)) as Record<string, string>;
    }
    return { state, secrets };
  }

  /** The functions with a served record. */
  async functions(): Promise<string[]> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch {
      return [];
    }
    const out: string[] = [];
    for (const n of names) {
      if (!FUNCTION_NAME.test(n)) continue;
      try {
        await stat(join(this.dir, n, SERVED_FILE));
        out.push(n);
      } catch {
        /* bundles only: never served */
      }
    }
    return out.sort();
  }

  /** Drops bundle folders beyond the served ones and the few most recent others. */
  private async prune(fn: string, state: ServedState): Promise<void> {
    const dir = this.fnDir(fn);
    const keep = new Set([state.stable.sha256, ...(state.canary ? [state.canary.record.sha256] : [])]);
    const others: { name: string; mtimeMs: number }[] = [];
    for (const name of await readdir(dir)) {
      if (!/^[0-9a-f]{64}$/.test(name) || keep.has(name)) continue;
      try {
        others.push({ name, mtimeMs: (await stat(join(dir, name))).mtimeMs });
      } catch {
        /* removed by another process meanwhile */
      }
    }
    others.sort((a, b) => b.mtimeMs - a.mtimeMs);
    for (const o of others.slice(KEEP_OTHER_BUNDLES)) await rm(join(dir, o.name), { recursive: true, force: true });
  }

  private seal(text: string): Buffer {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.sealKey!, iv);
    const body = Buffer.concat([cipher.update(text, 'utf8'), cipher.final()]);
    return Buffer.concat([iv, cipher.getAuthTag(), body]);
  }

  private open(sealed: Buffer): string {
    const decipher = createDecipheriv('aes-256-gcm', this.sealKey!, sealed.subarray(0, 12));
    decipher.setAuthTag(sealed.subarray(12, 28));
    try {
      return Buffer.concat([decipher.update(sealed.subarray(28)), decipher.final()]).toString('utf8');
    } catch {
      throw new Error('the cached secrets were sealed with another secrets key');
    }
  }
}
