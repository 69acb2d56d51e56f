/**
 * Issue 13, idle memory: the heavy packages (the AWS SDK ~21 MiB RSS, ioredis ~25, prom-client
 * ~11, esbuild ~11) load when the config uses them, not with the CLI or the gateway. This walks
 * the static import graph (esbuild's metafile: `import` statements only, not `import()`) from
 * the CLI's entry, which every command (serve too) loads, and from the package's API entry, and
 * fails with the chain of files when one of them is reachable; the measured effect is in
 * docs/PERFORMANCE.md "Idle memory: heavy modules load when used".
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type Metafile } from 'esbuild';
import { describe, expect, it } from 'vitest';

const repo = join(dirname(fileURLToPath(import.meta.url)), '../../..');
const HEAVY = ['@aws-sdk/client-s3', 'ioredis', 'prom-client', 'esbuild'];

/** Each file's static imports (repo-relative paths, or bare package names for externals). */
async function staticGraph(entry: string): Promise<Map<string, string[]>> {
  const r = await build({
    absWorkingDir: repo,
    entryPoints: [entry],
    bundle: true,
    platform: 'node',
    format: 'esm',
    packages: 'external',
    write: false,
    metafile: true,
    logLevel: 'silent',
    outdir: 'out',
  });
  const meta: Metafile = r.metafile;
  const graph = new Map<string, string[]>();
  for (const [file, input] of Object.entries(meta.inputs)) {
    graph.set(
      file,
      input.imports.filter((i) => i.kind === 'import-statement').map((i) => i.path),
    );
  }
  return graph;
}

/** The shortest chain of static imports from `entry` to `target`, or undefined. */
function chainTo(graph: Map<string, string[]>, entry: string, target: string): string[] | undefined {
  const parent = new Map<string, string>();
  const queue = [entry];
  const seen = new Set(queue);
  // Bounded: every file is queued at most once.
  while (queue.length > 0) {
    const file = queue.shift()!;
    for (const next of graph.get(file) ?? []) {
      if (seen.has(next)) continue;
      seen.add(next);
      parent.set(next, file);
      if (next === target) {
        const chain = [next];
        for (let at = file; at !== undefined; at = parent.get(at)!) {
          chain.unshift(at);
          if (at === entry) break;
        }
        return chain;
      }
      queue.push(next);
    }
  }
  return undefined;
}

describe('lazy imports (issue 13)', () => {
  for (const entry of ['gateway/src/cli/main.ts', 'gateway/src/index.ts']) {
    it(`${entry} imports none of the heavy packages statically`, async () => {
      const graph = await staticGraph(entry);
      // The walk saw the gateway itself, not an empty graph.
      expect(graph.has('gateway/src/app/start-gateway.ts')).toBe(true);
      const found = HEAVY.map((pkg) => ({ pkg, chain: chainTo(graph, entry, pkg) })).filter((f) => f.chain);
      expect(found.map((f) => `${f.pkg}: ${f.chain!.join(' -> ')}`)).toEqual([]);
    });
  }

  it('the walk finds a static import where there is one (the metrics module imports prom-client)', async () => {
    const graph = await staticGraph('gateway/src/stats/metrics.ts');
    expect(chainTo(graph, 'gateway/src/stats/metrics.ts', 'prom-client')).toEqual(['gateway/src/stats/metrics.ts', 'prom-client']);
  });
});
