/**
 * Finds files of the tftpfn package itself, whether the code runs from TypeScript sources
 * (tests, type-aware tools) or from the transpiled dist/ tree.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let root: string | undefined;

/** The folder holding tftpfn's package.json. */
export function packageRoot(): string {
  if (root) return root;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'tftpfn') return (root = dir);
    const up = dirname(dir);
    if (up === dir) throw new Error('cannot find the tftpfn package root (no package.json named "tftpfn" above this file)');
    dir = up;
  }
}

/**
 * The built JavaScript of a gateway module, e.g. builtModule('gateway/src/runtime/worker-main'):
 * worker threads need a .js file, and under a TypeScript test runner this module is itself .ts.
 */
export function builtModule(relativeNoExt: string): string {
  const built = join(packageRoot(), 'dist', `${relativeNoExt}.js`);
  if (!existsSync(built)) throw new Error(`${built} is missing: run "npm run build" first`);
  return built;
}

/** The SDK entry a function bundle compiles against: the sources when present, else dist. */
export function sdkEntry(): string {
  const src = join(packageRoot(), 'sdk', 'index.ts');
  return existsSync(src) ? src : join(packageRoot(), 'dist', 'sdk', 'index.js');
}
