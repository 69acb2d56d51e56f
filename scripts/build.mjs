// Transpiles the TypeScript sources to dist/ (one .js per .ts; only the vendored re-export modules
// at the end are bundled) with esbuild.
// Type checking is separate: `npm run typecheck`.
import { build } from 'esbuild';
import { readdirSync, statSync, rmSync } from 'node:fs';
import { join } from 'node:path';

const roots = ['gateway/src', 'client', 'sdk', 'bench'];
// Modules that only re-export a dependency the gateway loads at start as hundreds of ESM files:
// each is bundled with that dependency into its one .js (below), so Node loads one module
// instead of zod v4's ~230 (issue 13, idle RSS: 1-2 MiB less for a fresh gateway). The rest of
// dist/ stays one .js per .ts.
const vendored = ['gateway/src/config/zod.ts'];
const entryPoints = [];
function walk(dir) {
  let names;
  try { names = readdirSync(dir); } catch { return; }
  for (const name of names) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p);
    else if (p.endsWith('.ts') && !p.endsWith('.d.ts') && !p.endsWith('.test.ts') && !vendored.includes(p)) entryPoints.push(p);
  }
}
roots.forEach(walk);
rmSync('dist', { recursive: true, force: true });
await build({
  entryPoints,
  outdir: 'dist',
  outbase: '.',
  format: 'esm',
  platform: 'node',
  target: 'node20',
  sourcemap: 'linked',
  logLevel: 'warning',
});
await build({
  entryPoints: vendored,
  outdir: 'dist',
  outbase: '.',
  bundle: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  sourcemap: 'linked',
  logLevel: 'warning',
});
