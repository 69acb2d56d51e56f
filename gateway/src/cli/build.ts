/**
 * `tftpfn build <file>`: bundle a function the way the gateway will load it, and write
 * function.mjs and its source map. Also holds what `deploy` and `invoke` share: finding the
 * entry file, a function's default name, and reporting a failed bundle.
 */
import { existsSync, statSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { Command } from 'commander';
import { BUNDLE_FILE, BundleError, MAP_FILE, bundleFunction, type BuiltBundle } from '../runtime/bundle.js';

const INDEX_FILES = ['index.ts', 'index.mts', 'index.js', 'index.mjs'];

/** The file to bundle: the file itself, or a folder's index.{ts,mts,js,mjs}. */
export function resolveEntry(fileOrFolder: string): string {
  if (!existsSync(fileOrFolder)) throw new Error(`${fileOrFolder} does not exist; give the function's source file (e.g. functions/grub/index.ts) or its folder`);
  if (!statSync(fileOrFolder).isDirectory()) return fileOrFolder;
  const found = INDEX_FILES.map((n) => join(fileOrFolder, n)).find((p) => existsSync(p));
  if (!found) throw new Error(`${fileOrFolder} is a folder without ${INDEX_FILES.join(', ')}; give the function's source file`);
  return found;
}

/** functions/grub/index.ts → "grub"; hello.ts → "hello". */
export function defaultFunctionName(entry: string): string {
  const stem = basename(entry, extname(entry));
  return stem === 'index' ? basename(dirname(resolve(entry))) : stem;
}

export function formatBytes(bytes: number): string {
  return `${bytes} bytes (${(bytes / 1024).toFixed(bytes < 1024 ? 2 : 1)} KiB)`;
}

/**
 * Bundles, printing warnings to stderr. A bundle failure is printed as esbuild's messages
 * (file:line:col: text) under `verb:` and returns undefined; other failures throw.
 */
export async function bundleOrReport(verb: string, fileOrFolder: string, minify = false): Promise<BuiltBundle | undefined> {
  let entry: string;
  try {
    entry = resolveEntry(fileOrFolder);
  } catch (e) {
    console.error(`tftpfn ${verb}: ${(e as Error).message}`);
    return undefined;
  }
  try {
    const bundle = await bundleFunction(entry, { minify });
    for (const w of bundle.warnings) console.error(`warning: ${w}`);
    return bundle;
  } catch (e) {
    if (!(e instanceof BundleError)) throw e;
    console.error(`tftpfn ${verb}: cannot bundle ${entry}:`);
    for (const line of e.errors) console.error(`  ${line}`);
    return undefined;
  }
}

interface BuildFlags {
  outDir?: string;
  minify?: boolean;
}

export function buildCommand(): Command {
  return new Command('build')
    .description('bundle a function into the single ESM file the gateway loads (function.mjs + source map)')
    .argument('<file>', "the function's source file, or a folder with an index.ts")
    .option('-o, --out-dir <dir>', 'where to write function.mjs and function.mjs.map (default: dist-functions/<name>/)')
    .option('--minify', 'minify the bundle (the source map still points at your lines)')
    .addHelpText('after', '\nExamples:\n  tftpfn build functions/grub\n  tftpfn build hello.ts -o /tmp/hello --minify')
    .action(async (file: string, flags: BuildFlags) => {
      const bundle = await bundleOrReport('build', file, flags.minify);
      if (!bundle) {
        process.exitCode = 1;
        return;
      }
      const outDir = flags.outDir ?? join('dist-functions', defaultFunctionName(bundle.entry));
      await mkdir(outDir, { recursive: true });
      const bundlePath = join(outDir, BUNDLE_FILE);
      await writeFile(bundlePath, bundle.code);
      await writeFile(join(outDir, MAP_FILE), bundle.map);
      console.log(`${bundlePath}  ${formatBytes(bundle.bytes)}, built in ${bundle.buildMs.toFixed(0)} ms`);
      console.log(`${join(outDir, MAP_FILE)}  ${formatBytes(Buffer.byteLength(bundle.map))}`);
      console.log(`sha256 ${bundle.sha256}`);
    });
}
