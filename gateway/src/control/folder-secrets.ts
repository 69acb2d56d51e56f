/**
 * The folder control plane's secrets: `<dir>/<name>/secrets.json`, { KEY: sealed value }
 * (sealed-secrets.ts; the file never holds a value in the clear), read-modify-written under the
 * function's lock file and replaced whole by rename, so two `tftpfn secret put`s never lose one.
 */
import { mkdir } from 'node:fs/promises';
import { ControlPlaneError } from './control-plane.js';
import { readIfExists, replaceFile, withFileLock } from './folder-files.js';
import { functionPaths } from './folder-layout.js';

/** The sealed values of a function by secret name; {} when it has none. */
export async function readSealedSecrets(dir: string, name: string): Promise<Record<string, string>> {
  const path = functionPaths(dir, name).secrets;
  const text = await readIfExists(path);
  if (text === undefined) return {};
  try {
    return JSON.parse(text) as Record<string, string>;
  } catch (e) {
    throw new ControlPlaneError(`function "${name}": ${path} is not valid JSON (${(e as Error).message})`);
  }
}

/** Applies `change` to the sealed values under the lock and stores the result. */
export async function changeSealedSecrets(dir: string, name: string, change: (all: Record<string, string>) => void): Promise<void> {
  const paths = functionPaths(dir, name);
  await mkdir(paths.dir, { recursive: true });
  await withFileLock(paths.lock, async () => {
    const all = await readSealedSecrets(dir, name);
    change(all);
    await replaceFile(paths.secrets, `${JSON.stringify(all, null, 2)}\n`);
  });
}
