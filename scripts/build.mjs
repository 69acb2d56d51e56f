// Transpiles the TypeScript sources to dist/ (one .js per .ts; only the vendored re-export modules
// at the end are bundled) with esbuild.
// Type checking is separate: `npm run typecheck`.
import { build } from 'esbuild';
import { readdirSync, statSync, rmSync } from 'node:fs';
import { join } from 'node:path';

const roots = ['gateway/src', 'client', 'sdk', 'bench'];
const entryPoints = [];
function walk(dir) {
  let names;
  try { names = readdirSync(dir); } catch { return; }
  for (const name of names) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p);
    else if (p.endsWith('.ts') && !p.endsWith('.d.ts') && !p.endsWith('.test.ts')) entryPoints.push(p);
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

// Dependencies the gateway loads at start as hundreds of ESM files are bundled into the one
// module that re-exports them (issue 13, idle RSS): Node keeps a module record, the source and
// its compiled code per file, so zod v4's ~230 files cost ~7 MiB of a fresh gateway's RSS.
// Only these re-export modules are bundled; the rest of dist/ stays one .js per .ts.
const vendored = ['gateway/src/config/zod.ts'];
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
  allowOverwrite: true,
});
