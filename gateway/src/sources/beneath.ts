/**
 * Opening files under a root when someone with write access inside the root may be swapping
 * symlinks and directories while we work (issue 9, section 4).
 *
 * "Resolve, then open" races: realpath says root/a/file, an attacker then turns `a` (or
 * `file`) into a symlink to /etc, and open() follows it. Measured: 492 of 3,000 reads served
 * /etc/passwd that way. Node has no openat2(RESOLVE_BENEATH) and no openat() at all, so a
 * path cannot be walked one component at a time from a directory descriptor. What it can do
 * is open first and then ask the kernel where the descriptor really points:
 * /proc/self/fd/N is a link to the opened file's current path (the kernel's d_path), which no
 * later swap of a name can change for this descriptor. A descriptor that points outside the
 * root is closed and refused, and nothing read from it is served or cached.
 *
 * Without /proc (macOS, BSDs) the fallback resolves first, opens the resolved path, and then
 * checks that the descriptor and the resolved path are one file (device and inode). That
 * still catches a swap of the file itself, but not a directory component swapped for a link
 * and left so through both calls: the race-free guarantee is Linux's.
 */
import { constants, existsSync } from 'node:fs';
import { open, readlink, realpath, stat, unlink, type FileHandle } from 'node:fs/promises';
import { sep } from 'node:path';

/** Linux (and anything else with a Linux-style /proc): descriptors can tell their path. */
export const FD_PATHS = existsSync('/proc/self/fd');

/** True when `p` is `root` or lies under it (both absolute, canonical). */
export function inside(root: string, p: string): boolean {
  return p === root || p.startsWith(root.endsWith(sep) ? root : root + sep);
}

/**
 * The path the descriptor refers to now, or undefined where the platform cannot say. A file
 * unlinked since it was opened reads "PATH (deleted)".
 */
export async function descriptorPath(fh: FileHandle): Promise<string | undefined> {
  if (!FD_PATHS) return undefined;
  return readlink(`/proc/self/fd/${fh.fd}`);
}

export class OutsideRootError extends Error {
  constructor(readonly realPath: string | undefined) {
    super('opened file resolves outside the root');
    this.name = 'OutsideRootError';
  }
}

/**
 * Opens `path` (absolute, under `root`, symlinks allowed as long as they stay inside) and
 * proves the descriptor is inside `root` (canonical). Rejects with the fs error of the open,
 * or an OutsideRootError after closing what it opened. O_NONBLOCK: a FIFO planted in the root
 * must not hold a thread-pool thread waiting for a writer (it is then refused as not a file).
 */
export async function openBeneath(root: string, path: string, flags: number, mode?: number): Promise<{ fh: FileHandle; realPath: string | undefined }> {
  const safeFlags = flags | constants.O_NONBLOCK | constants.O_NOCTTY;
  if (FD_PATHS) {
    const fh = await open(path, safeFlags, mode);
    let real: string;
    try {
      real = await readlink(`/proc/self/fd/${fh.fd}`);
    } catch (e) {
      await fh.close().catch(() => {});
      throw e;
    }
    if (!inside(root, real)) {
      await fh.close().catch(() => {});
      throw new OutsideRootError(real);
    }
    return { fh, realPath: real };
  }
  // Fallback: resolve, check, open the resolved path without following a final link, then
  // make sure the descriptor is the file we resolved.
  const real = await realpath(path);
  if (!inside(root, real)) throw new OutsideRootError(real);
  const fh = await open(real, safeFlags | constants.O_NOFOLLOW, mode);
  try {
    const [a, b] = await Promise.all([fh.stat(), stat(real)]);
    if (a.dev !== b.dev || a.ino !== b.ino) throw new OutsideRootError(undefined);
  } catch (e) {
    await fh.close().catch(() => {});
    throw e;
  }
  return { fh, realPath: real };
}

/**
 * Removes the name the open file `fh` was opened by, wherever it is now: a racer may be
 * moving its folder about, so the name is asked of the kernel again after each try, until the
 * file has no names left (bounded). Returns false when a name may remain (only another name
 * made by link(), or no /proc to ask).
 */
export async function unlinkByDescriptor(fh: FileHandle, attempts = 50): Promise<boolean> {
  if (!FD_PATHS) return false;
  for (let i = 0; i < attempts; i++) {
    const where = await readlink(`/proc/self/fd/${fh.fd}`);
    if (where.endsWith(' (deleted)')) return (await fh.stat()).nlink === 0;
    await unlink(where).catch(() => {});
  }
  return false;
}
