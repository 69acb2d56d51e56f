/**
 * The file operations the folder control plane is built from, with the deploy folder's
 * invariants (runtime/deploy-store.ts): nothing is ever visible half-written — a file or a
 * version folder is written under a temporary name, flushed, and renamed into place (atomic
 * on POSIX) — and a short lock file serialises the read-modify-write steps of one function
 * (rollout revision, pruning, secrets), so concurrent deployers and gateways stay consistent.
 * A folder or file that is not there (yet) reads as empty, not as an error.
 */
import { randomBytes } from 'node:crypto';
import { open, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { ControlPlaneError } from './control-plane.js';

/** A lock older than this was left by a process that died holding it; it is broken. */
const STALE_LOCK_MS = 10_000;
/** How long a caller waits for the lock before giving up with an error. */
const LOCK_WAIT_MS = 15_000;

export function tempSuffix(): string {
  return `${process.pid}-${randomBytes(4).toString('hex')}`;
}

/** Written and flushed before any rename publishes it, so a crash cannot expose a short file. */
export async function writeDurable(path: string, data: string | Uint8Array): Promise<void> {
  const fh = await open(path, 'wx');
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Makes a rename inside `dir` durable; best effort (some filesystems refuse fsync on a folder). */
export async function syncDir(dir: string): Promise<void> {
  try {
    const fh = await open(dir, 'r');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  } catch {
    // not supported here: the rename is still atomic, only its durability across a crash is weaker
  }
}

/** Replaces `path` whole: a reader sees the old content or the new, never a mix. */
export async function replaceFile(path: string, data: string | Uint8Array): Promise<void> {
  const temp = `${path}.tmp-${tempSuffix()}`;
  try {
    await writeDurable(temp, data);
    await rename(temp, path);
  } catch (e) {
    await rm(temp, { force: true });
    throw e;
  }
  await syncDir(dirname(path));
}

/** Runs `fn` holding `lockPath` (created with O_EXCL, removed after). */
export async function withFileLock<T>(lockPath: string, fn: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + LOCK_WAIT_MS;
  for (let attempt = 0; ; attempt++) {
    try {
      const fh = await open(lockPath, 'wx');
      await fh.writeFile(`${process.pid}\n`);
      await fh.close();
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    try {
      if (Date.now() - (await stat(lockPath)).mtimeMs > STALE_LOCK_MS) {
        await rm(lockPath, { force: true });
        continue;
      }
    } catch {
      continue; // released between our open and stat
    }
    if (Date.now() > deadline) {
      throw new ControlPlaneError(`${lockPath} is held by another deployer for more than ${LOCK_WAIT_MS / 1000} s; try again (a lock older than ${STALE_LOCK_MS / 1000} s is broken by itself)`);
    }
    await new Promise((r) => setTimeout(r, Math.min(50, 2 + attempt * 2)));
  }
  try {
    return await fn();
  } finally {
    await rm(lockPath, { force: true });
  }
}

/** The names in `dir`; none when it (or a parent) does not exist. */
export async function listDir(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return [];
    throw e;
  }
}

/** The file's text; undefined when it (or a parent) does not exist. */
export async function readIfExists(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw e;
  }
}
