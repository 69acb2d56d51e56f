// Runs a TypeScript entry of scripts/ (fuzz, soak) without a separate build step: esbuild
// bundles it (the repository's own sources included, node_modules left external) into
// node_modules/.cache/tftpfn-scripts, then it is imported with the remaining arguments.
//   node scripts/fuzz/run.mjs scripts/fuzz/fuzz.ts --cases 1000000
// Entries need distinct file names (fuzz.ts, soak.ts): each becomes <name>.js there.
import { build } from 'esbuild';
import { basename, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const [entry, ...args] = process.argv.slice(2);
if (!entry) {
  console.error('usage: node scripts/fuzz/run.mjs ENTRY.ts [args...]');
  process.exit(2);
}
const outdir = resolve('node_modules/.cache/tftpfn-scripts');
await build({
  entryPoints: [entry],
  outdir,
  bundle: true,
  packages: 'external',
  format: 'esm',
  platform: 'node',
  target: 'node20',
  sourcemap: 'inline',
  logLevel: 'warning',
});
process.argv = [process.argv[0], entry, ...args];
await import(pathToFileURL(join(outdir, basename(entry).replace(/\.ts$/, '.js'))).href);
