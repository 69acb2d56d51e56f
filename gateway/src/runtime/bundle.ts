/**
 * Bundles a function's source into the single ESM file a worker loads: esbuild, every import
 * (the SDK included) inlined, an external source map so stack traces in logs point at the
 * author's lines.
 *
 * A build can be cancelled (`signal`): `tftpfn dev` aborts the build of a file that was saved
 * again before it finished, so the stale build stops and the newest one starts at once.
 */
import { createHash } from 'node:crypto';
import { resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { BuildContext, BuildOptions, Message } from 'esbuild';
import { build, context } from './esbuild-lazy.js';
import { sdkEntry } from './package-root.js';

export interface BuiltBundle {
  /** The entry file it was built from. */
  readonly entry: string;
  /** The ESM module text. */
  readonly code: string;
  /** Its source map (JSON), referenced from the last line of `code` as function.mjs.map. */
  readonly map: string;
  readonly bytes: number;
  /** sha256 of `code`, hex: the content part of a version id. */
  readonly sha256: string;
  readonly buildMs: number;
  readonly warnings: readonly string[];
}

/** The file names a bundle is written under, in a deploy version folder or a build output. */
export const BUNDLE_FILE = 'function.mjs';
export const MAP_FILE = 'function.mjs.map';

export class BundleError extends Error {
  readonly errors: readonly string[];
  constructor(entry: string, errors: readonly string[]) {
    super(`cannot bundle ${entry}:\n  ${errors.join('\n  ')}`);
    this.name = 'BundleError';
    this.errors = errors;
  }
}

function format(m: Message): string {
  const at = m.location ? `${m.location.file}:${m.location.line}:${m.location.column + 1}: ` : '';
  return `${at}${m.text}`;
}

export interface BundleOptions {
  minify?: boolean;
  /** Aborting it cancels the build, which then rejects with the signal's reason. */
  signal?: AbortSignal;
}

/** How a function's imports are resolved: the same for a bundle and for its input graph. */
function resolveOptions(entry: string) {
  return {
    entryPoints: [entry],
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    logLevel: 'silent',
    // The SDK the function compiles against is the one this gateway speaks, whatever copy
    // (if any) the author's project has installed.
    alias: { 'tftpfn/sdk': sdkEntry() },
  } as const satisfies BuildOptions;
}

/** esbuild's metafile names inputs relative to the working folder; virtual ones carry a namespace ("ns:path"). */
function inputFile(key: string): string | undefined {
  return /^[a-z][\w-]+:/i.test(key) ? undefined : resolve(key);
}

/**
 * The files a bundle of `entry` is made from (absolute paths): what `tftpfn dev` watches, so a
 * log file or an editor's backup in the folder changes nothing. When the source does not
 * build, the graph is unknown: the entry and every file an error names are returned, and the
 * caller keeps the files it knew of before.
 */
export async function bundleInputs(entry: string): Promise<string[]> {
  try {
    const result = await build({ ...resolveOptions(entry), write: false, metafile: true, outfile: BUNDLE_FILE });
    return Object.keys(result.metafile.inputs).flatMap((k) => inputFile(k) ?? []);
  } catch (e) {
    const failure = e as { errors?: Message[] };
    const named = (failure.errors ?? []).flatMap((m) => (m.location ? (inputFile(m.location.file) ?? []) : []));
    return [...new Set([resolve(entry), ...named])];
  }
}

export async function bundleFunction(entry: string, opts: BundleOptions = {}): Promise<BuiltBundle> {
  const started = performance.now();
  opts.signal?.throwIfAborted();
  const options = {
    ...resolveOptions(entry),
    outfile: BUNDLE_FILE,
    write: false,
    // 'linked' appends the sourceMappingURL comment that Node follows to function.mjs.map.
    sourcemap: 'linked',
    sourcesContent: true,
    minify: opts.minify ?? false,
    // CommonJS dependencies inside an ESM bundle still call require().
    banner: { js: "import { createRequire as __tftpfnCreateRequire } from 'node:module'; const require = __tftpfnCreateRequire(import.meta.url);" },
  } as const satisfies BuildOptions;
  let result;
  // A context rather than build(): only a context's build can be cancelled midway.
  let ctx: BuildContext<typeof options> | undefined;
  const cancel = () => void ctx?.cancel();
  opts.signal?.addEventListener('abort', cancel, { once: true });
  try {
    ctx = await context(options);
    result = await ctx.rebuild();
  } catch (e) {
    // A cancelled build rejects with esbuild's "The build was canceled": report the abort instead.
    opts.signal?.throwIfAborted();
    const failure = e as { errors?: Message[] };
    if (Array.isArray(failure.errors)) throw new BundleError(entry, failure.errors.map(format));
    throw e;
  } finally {
    opts.signal?.removeEventListener('abort', cancel);
    await ctx?.dispose();
  }
  opts.signal?.throwIfAborted();
  const code = result.outputFiles.find((f) => f.path.endsWith('.mjs'))!.text;
  // esbuild writes sources relative to the (virtual) output folder; the bundle is copied
  // elsewhere (a deploy folder, a temp dir), so make them absolute to keep traces pointing at
  // the author's files.
  const rawMap = JSON.parse(result.outputFiles.find((f) => f.path.endsWith('.map'))!.text) as { sources: string[] };
  rawMap.sources = rawMap.sources.map((s) => resolve(s));
  const map = JSON.stringify(rawMap);
  return {
    entry,
    code,
    map,
    bytes: Buffer.byteLength(code),
    sha256: createHash('sha256').update(code).digest('hex'),
    buildMs: performance.now() - started,
    warnings: result.warnings.map(format),
  };
}
