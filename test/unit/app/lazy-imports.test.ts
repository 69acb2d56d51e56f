/**
 * Issue 13, idle memory: the heavy packages (the AWS SDK ~21 MiB RSS, ioredis ~25, prom-client
 * ~11, esbuild ~11) load when the config uses them, not with the CLI or the gateway. This walks
 * the static import graph (esbuild's metafile: `import` statements only, not `import()`) from
 * the CLI's entry, which every command (serve too) loads, and from the package's API entry, and
 * fails with the chain of files when one of them is reachable; the measured effect is in
 * docs/PERFORMANCE.md "Idle memory: heavy modules load when used".
 */
import { existsSync } from 'node:fs';
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

/**
 * What a folder server never uses, and so must not load at start: the function runtime and its
 * sandbox, the control plane, the Redis stats sink, the other verbs and the client library they
 * use (about 4 MiB of idle RSS together; docs/PERFORMANCE.md "Idle memory without zod").
 */
const NOT_FOR_A_FOLDER_SERVER = [
  'gateway/src/runtime/function-runtime.ts',
  'gateway/src/runtime/worker-pool.ts',
  'gateway/src/control/open.ts',
  'gateway/src/control/secret-box.ts',
  'gateway/src/stats/redis-sink.ts',
  'gateway/src/cli/deploy.ts',
  'gateway/src/cli/dev.ts',
  'client/load.ts',
];

describe('lazy imports (issue 13)', () => {
  // cli/serve.ts is what `tftpfn serve` loads (cli/program.ts imports the verb a command line names).
  for (const entry of ['gateway/src/cli/serve.ts', 'gateway/src/index.ts']) {
    it(`${entry} imports none of the heavy packages statically`, async () => {
      const graph = await staticGraph(entry);
      // The walk saw the gateway itself, not an empty graph.
      expect(graph.has('gateway/src/app/start-gateway.ts')).toBe(true);
      const found = HEAVY.map((pkg) => ({ pkg, chain: chainTo(graph, entry, pkg) })).filter((f) => f.chain);
      expect(found.map((f) => `${f.pkg}: ${f.chain!.join(' -> ')}`)).toEqual([]);
    });
  }

  it('the CLI entry imports no verb statically: each is loaded when the command line names it', async () => {
    const graph = await staticGraph('gateway/src/cli/main.ts');
    expect(graph.get('gateway/src/cli/main.ts')).toEqual(['gateway/src/cli/program.ts']);
    expect(graph.get('gateway/src/cli/program.ts')).toEqual(['commander']);
  });

  it('tftpfn serve loads no function runtime, control plane, stats sink or other verb until its config asks', async () => {
    const entry = 'gateway/src/cli/serve.ts';
    const graph = await staticGraph(entry);
    expect(graph.has('gateway/src/app/gateway.ts')).toBe(true);
    const found = NOT_FOR_A_FOLDER_SERVER.map((file) => ({ file, chain: chainTo(graph, entry, file) })).filter((f) => f.chain);
    expect(found.map((f) => `${f.file}: ${f.chain!.join(' -> ')}`)).toEqual([]);
    // Each of them exists: a renamed file would make this pass vacuously.
    expect(NOT_FOR_A_FOLDER_SERVER.filter((file) => !existsSync(join(repo, file)))).toEqual([]);
  });

  it('the walk finds a static import where there is one (the metrics module imports prom-client)', async () => {
    const graph = await staticGraph('gateway/src/stats/metrics.ts');
    expect(chainTo(graph, 'gateway/src/stats/metrics.ts', 'prom-client')).toEqual(['gateway/src/stats/metrics.ts', 'prom-client']);
  });
});
