/**
 * The checkout's root, found from this module whether it runs as TypeScript source (vitest:
 * bench/) or compiled (dist/bench/): the nearest folder above holding tftpfn's package.json.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

function findRepoRoot(from: string): string {
  for (let dir = from, i = 0; i < 10; i++, dir = dirname(dir)) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'tftpfn') return `${dir}/`;
  }
  throw new Error(`bench: no tftpfn package.json above ${from}`);
}

/** With a trailing slash, as `new URL('../../', import.meta.url)` gave from dist/bench. */
export const REPO_ROOT = findRepoRoot(dirname(fileURLToPath(import.meta.url)));

/** The commit checked out in `dir` (this checkout or --baseline's), `-dirty` with uncommitted changes. */
export function gitDescribe(dir: string): string {
  try {
    return execFileSync('git', ['describe', '--always', '--dirty'], { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return 'unknown';
  }
}
