/**
 * esbuild's `build` and `context`, loaded on the first call instead of with the module that
 * names them (issue 13, docs/PERFORMANCE.md "Idle memory: heavy modules load when used").
 * esbuild's JavaScript API costs about 11 MiB of RSS once loaded, and the CLI and the gateway
 * import the bundler's modules whether or not anything is bundled: a folder server never
 * bundles, a gateway bundles only for functions with an `entry`, `dev`, `build`, `deploy` and
 * `invoke` do. Same signatures as esbuild's own, so call sites do not change.
 */
import type * as Esbuild from 'esbuild';

let loaded: Promise<typeof Esbuild> | undefined;

/** The esbuild module, imported once per process on first use. */
export function loadEsbuild(): Promise<typeof Esbuild> {
  loaded ??= import('esbuild');
  return loaded;
}

export const build = (async (options: Esbuild.BuildOptions) => (await loadEsbuild()).build(options)) as typeof Esbuild.build;

export const context = (async (options: Esbuild.BuildOptions) => (await loadEsbuild()).context(options)) as typeof Esbuild.context;
