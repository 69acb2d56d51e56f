/**
 * The folder upload sink (LocalDirSink): uploads into a writable folder. Bytes go to a hidden
 * temp file beside the target, put in place on the last block, so an aborted upload leaves
 * nothing behind.
 *
 * Someone who can write inside the folder may swap a directory for a symlink while an upload
 * runs (issue 9 §4: 33 of a run's uploads landed outside writeRoot, 42 temp files were
 * stranded). So the temp file is created exclusively (O_EXCL never follows a final link) and
 * its descriptor's real path is checked against the root (sources/beneath.ts); the final name
 * is made next to where the temp file really is, and checked again afterwards. Every failure
 * removes the temp file by where its descriptor says it is, not by the name we asked for.
 *
 * Without allowOverwrite the final step is link(temp, final), which fails with EEXIST when the
 * name exists: of two concurrent uploads of one new name, exactly one wins and the other gets
 * ERROR 6, where rename() would have let the second replace the first.
 */
import { link, lstat, open, realpath, rename, unlink, type FileHandle } from 'node:fs/promises';
import { constants, realpathSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { toTftpError, wireError } from '../errors/to-tftp-error.js';
import { WIRE_TEXT } from '../errors/wire-texts.js';
import type { RequestPath } from '../protocol/path.js';
import type { ByteWriter } from './types.js';
import { descriptorPath, FD_PATHS, inside, OutsideRootError, unlinkByDescriptor } from './beneath.js';

const denied = (cause?: unknown) => wireError(WIRE_TEXT.accessViolation, { cause });
const exists = (cause?: unknown) => wireError(WIRE_TEXT.fileExists, { cause });

/**
 * Links (or renames) the temp file to `name` inside the folder that holds it, named by a
 * descriptor of that folder: the folder is opened by path, then proven to be the one holding
 * our temp file (same inode) and inside the root; after the link it is checked once more (it may
 * have been moved out meanwhile, taking the new name with it: then the name is removed through
 * the same descriptor and the upload refused). The temp name is removed through it too.
 */
async function commitThroughFolder(root: string, temp: FileHandle, tempNow: string, name: string, allowOverwrite: boolean): Promise<void> {
  const dir = await open(dirname(tempNow), constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    const via = `/proc/self/fd/${dir.fd}`;
    const tempName = basename(tempNow);
    const [ours, there, dirPath] = await Promise.all([temp.stat(), lstat(`${via}/${tempName}`).catch(() => undefined), descriptorPath(dir)]);
    if (!there || there.ino !== ours.ino || there.dev !== ours.dev || !dirPath || !inside(root, dirPath)) throw new OutsideRootError(dirPath ?? tempNow);
    if (allowOverwrite) await rename(`${via}/${tempName}`, `${via}/${name}`);
    else await link(`${via}/${tempName}`, `${via}/${name}`);
    const dirAfter = await descriptorPath(dir);
    if (!dirAfter || !inside(root, dirAfter)) {
      await unlink(`${via}/${name}`).catch(() => {});
      if (!allowOverwrite) await unlink(`${via}/${tempName}`).catch(() => {});
      throw new OutsideRootError(dirAfter ?? dirPath);
    }
    if (!allowOverwrite) await unlink(`${via}/${tempName}`).catch(() => {});
  } finally {
    await dir.close().catch(() => {});
  }
}

export class LocalDirSink {
  private readonly root: string;

  constructor(root: string, private readonly allowOverwrite: boolean) {
    this.root = realpathSync(root);
  }

  async openWrite(path: RequestPath): Promise<ByteWriter> {
    const name = basename(path.normalized);
    const requested = join(this.root, path.normalized);
    // An early answer for the common cases; the link in commit() is what makes it exclusive.
    const existing = await lstat(requested).catch(() => undefined);
    if (existing && !existing.isFile()) throw denied(new Error('target is not a regular file'));
    if (existing && !this.allowOverwrite) throw exists();
    const tempName = `.tftpfn-upload-${randomBytes(6).toString('hex')}.part`;
    const temp = await this.createTemp(join(dirname(requested), tempName));
    const root = this.root;
    const allowOverwrite = this.allowOverwrite;
    let done = false;

    /** Removes the temp file wherever it really is now, then closes it. */
    const discard = async () => {
      const gone = await unlinkByDescriptor(temp.fh).catch(() => false);
      if (!gone && temp.realPath && !FD_PATHS) await unlink(temp.realPath).catch(() => {});
      await temp.fh.close().catch(() => {});
    };

    return {
      async write(chunk) {
        try {
          await temp.fh.write(chunk);
        } catch (e) {
          // The session may or may not call abort() after a failed write: leave nothing behind.
          if (!done) {
            done = true;
            await discard();
          }
          throw toTftpError(e);
        }
      },
      async commit() {
        if (done) throw wireError(WIRE_TEXT.uploadEnded, { code: 'TFTP_UPSTREAM_FAILED' });
        done = true;
        try {
          await temp.fh.sync();
          // Where the temp file is now (a directory on its path may have been swapped since).
          const tempNow = (await descriptorPath(temp.fh)) ?? temp.realPath;
          if (!tempNow || !inside(root, tempNow)) throw new OutsideRootError(tempNow);
          if (FD_PATHS) {
            await commitThroughFolder(root, temp.fh, tempNow, name, allowOverwrite);
            await temp.fh.close();
            return;
          }
          const final = join(dirname(tempNow), name);
          if (allowOverwrite) await rename(tempNow, final);
          else await link(tempNow, final);
          // A directory moved out of the root between the check and the link or rename: the
          // final name went with it. Take it back out and refuse.
          const after = await descriptorPath(temp.fh);
          if (after !== undefined) {
            const afterPath = after.replace(/ \(deleted\)$/, '');
            const landed = allowOverwrite ? afterPath : join(dirname(afterPath), name);
            if (!inside(root, afterPath)) {
              await unlink(landed).catch(() => {});
              throw new OutsideRootError(afterPath);
            }
          }
          // The temp name goes by the descriptor too: its folder may have moved since.
          if (!allowOverwrite) {
            if (FD_PATHS) await unlinkByDescriptor(temp.fh).catch(() => false);
            else await unlink(tempNow).catch(() => {});
          }
          await temp.fh.close();
        } catch (e) {
          await discard();
          throw toTftpError(e);
        }
      },
      async abort() {
        if (done) return;
        done = true;
        await discard();
      },
    };
  }

  /** The temp file, created exclusively and proven to be inside the root. */
  private async createTemp(tempPath: string): Promise<{ fh: FileHandle; realPath: string | undefined }> {
    const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL;
    if (FD_PATHS) {
      let fh: FileHandle;
      try {
        fh = await open(tempPath, flags | constants.O_NOCTTY, 0o644);
      } catch (e) {
        throw toTftpError(e);
      }
      const realPath = await descriptorPath(fh).catch(() => undefined);
      if (realPath && inside(this.root, realPath)) return { fh, realPath };
      // Created outside the root (a folder on the way was swapped for a link): remove it there.
      await unlinkByDescriptor(fh).catch(() => false);
      await fh.close().catch(() => {});
      throw denied(new OutsideRootError(realPath));
    }
    // No /proc: resolve the folder first and create in the resolved folder (see beneath.ts).
    let parent: string;
    try {
      parent = await realpath(dirname(tempPath));
    } catch (e) {
      throw toTftpError(e);
    }
    if (!inside(this.root, parent)) throw denied(new Error('parent resolves outside the root'));
    const realPath = join(parent, basename(tempPath));
    try {
      return { fh: await open(realPath, flags | constants.O_NOFOLLOW, 0o644), realPath };
    } catch (e) {
      throw toTftpError(e);
    }
  }
}
