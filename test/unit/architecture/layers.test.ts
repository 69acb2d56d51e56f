/**
 * The floors of gateway/src (docs/ARCHITECTURE.md) hold only if nothing imports upward and
 * nothing imports in a circle. This reads every relative import of every source file
 * (value and type-only, `export … from`, `import()`; a type-level circle is still a circle the
 * next refactor trips over) and checks both.
 *
 * TypeScript 7 (the native compiler this repo uses) has no JavaScript API to ask for a file's
 * imports, and madge is not installed, so the graph is read with one anchored pattern per
 * statement form. The first tests check the checker on small made-up graphs, so a pattern
 * that silently stopped matching could not make the real checks pass vacuously.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const SRC = fileURLToPath(new URL('../../../gateway/src/', import.meta.url));

/** Floors that must not depend on the ones that use them. */
const LOWER_FLOORS = ['protocol', 'session', 'transport', 'admission'];
/** Floors built on top: request handlers, the accept step, wiring, the CLI, the public index. */
const UPPER_FLOORS = ['handlers', 'accept', 'app', 'cli', 'index.ts'];

// `import x from`, `import type { a } from`, `import * as n from`, `export { a } from`,
// `export * from`, `export type { a } from`, a default plus named: each at the start of a line
// (so a comment line starting with ` * ` or `//` never counts).
const STATIC_IMPORT =
  /^[ \t]*(?:import|export)\s+(?:type\s+)?(?:\*(?:\s+as\s+\w+)?|\{[^}]*\}|\w+(?:\s*,\s*(?:\{[^}]*\}|\*\s+as\s+\w+))?)\s+from\s+['"]([^'"]+)['"]/gm;
const SIDE_EFFECT_IMPORT = /^[ \t]*import\s+['"]([^'"]+)['"]/gm;
const DYNAMIC_IMPORT = /\bimport\(\s*['"]([^'"]+)['"]\s*\)/g;

/** The module specifiers a source text imports (relative and bare alike). */
function importSpecifiers(source: string): string[] {
  const out: string[] = [];
  // Template literals are text (a scaffold's file contents: cli/init-templates.ts), not imports.
  const code = source.replace(/`(?:\\[\s\S]|[^`\\])*`/g, '``');
  for (const re of [STATIC_IMPORT, SIDE_EFFECT_IMPORT, DYNAMIC_IMPORT]) {
    for (const m of code.matchAll(re)) out.push(m[1]);
  }
  return out;
}

type Graph = Map<string, string[]>;

/** Every .ts file under `root` (paths relative to it, '/'-separated) → the files it imports. */
function importGraph(root: string): Graph {
  const graph: Graph = new Map();
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) {
        const from = path.relative(root, full).split(path.sep).join('/');
        const targets = importSpecifiers(readFileSync(full, 'utf8'))
          .filter((s) => s.startsWith('.'))
          .map((s) => path.posix.normalize(path.posix.join(path.posix.dirname(from), s)).replace(/\.js$/, '.ts'));
        graph.set(from, targets);
      }
    }
  };
  walk(root);
  return graph;
}

/** The floor a file sits on: its top folder, or the file's own name at the root. */
function floorOf(file: string): string {
  return file.split('/')[0];
}

/** `from -> to` for every import from a lower floor into an upper one. */
function upwardImports(graph: Graph, lower: string[], upper: string[]): string[] {
  const found: string[] = [];
  for (const [from, targets] of graph) {
    if (!lower.includes(floorOf(from))) continue;
    for (const to of targets) if (upper.includes(floorOf(to))) found.push(`${from} -> ${to}`);
  }
  return found.sort();
}

/** Each import circle among the graph's own files, as a path that returns to its start (Tarjan). */
function importCycles(graph: Graph): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const cycles: string[][] = [];
  let next = 0;
  const connect = (v: string) => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue; // outside the tree (sdk/, packages)
      if (!index.has(w)) {
        connect(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) !== index.get(v)) return;
    const component: string[] = [];
    let w: string;
    do {
      w = stack.pop()!;
      onStack.delete(w);
      component.push(w);
    } while (w !== v);
    const selfLoop = (graph.get(v) ?? []).includes(v);
    if (component.length > 1 || selfLoop) cycles.push(cyclePath(graph, new Set(component), v));
  };
  for (const v of graph.keys()) if (!index.has(v)) connect(v);
  return cycles;
}

/** One concrete circle through `start` inside a strongly connected component (breadth-first). */
function cyclePath(graph: Graph, component: Set<string>, start: string): string[] {
  const parent = new Map<string, string>();
  const queue = [start];
  for (let i = 0; i < queue.length; i++) {
    const v = queue[i];
    for (const w of graph.get(v) ?? []) {
      if (!component.has(w)) continue;
      if (w === start) {
        const trail = [v];
        while (trail[0] !== start) trail.unshift(parent.get(trail[0])!);
        return [...trail, start];
      }
      if (!parent.has(w)) {
        parent.set(w, v);
        queue.push(w);
      }
    }
  }
  throw new Error(`no circle through ${start} in its component`);
}

describe('architecture: the checker itself', () => {
  it('architecture: reads every import form, and no import written in a comment', () => {
    const source = [
      "import type { A } from './a.js';",
      "import b, { c } from './b.js';",
      "import * as d from './d.js';",
      'import {',
      '  e,',
      '  type E,',
      "} from './e.js';",
      "export * from './f.js';",
      "export type { G } from './g.js';",
      "import './h.js';",
      "const i = await import('./i.js');",
      "type J = typeof import('./j.js');",
      "import pino from 'pino';",
      " * import { k } from './k.js';",
      "// import { l } from './l.js';",
      `const text = "import { m } from './m.js'";`,
      'const file = `',
      "import { n } from './n.js';",
      '`;',
    ].join('\n');
    expect(importSpecifiers(source).sort()).toEqual(['./a.js', './b.js', './d.js', './e.js', './f.js', './g.js', './h.js', './i.js', './j.js', 'pino'].sort());
  });

  it('architecture: finds an upward import and an import circle in a made-up graph', () => {
    const graph: Graph = new Map([
      ['transport/listener.ts', ['transport/endpoint.ts', 'handlers/request.ts']],
      ['transport/endpoint.ts', []],
      ['handlers/request.ts', ['transport/endpoint.ts']],
      ['stats/a.ts', ['stats/b.ts']],
      ['stats/b.ts', ['stats/c.ts', '../../sdk/contract.ts']],
      ['stats/c.ts', ['stats/a.ts']],
      ['cache/self.ts', ['cache/self.ts']],
    ]);
    expect(upwardImports(graph, LOWER_FLOORS, UPPER_FLOORS)).toEqual(['transport/listener.ts -> handlers/request.ts']);
    const cycles = importCycles(graph).map((c) => c.join(' -> ')).sort();
    expect(cycles).toEqual(['cache/self.ts -> cache/self.ts', 'stats/a.ts -> stats/b.ts -> stats/c.ts -> stats/a.ts']);
  });

  it('architecture: a graph without circles or upward imports passes', () => {
    const graph: Graph = new Map([
      ['handlers/request.ts', ['transport/endpoint.ts', 'transport/tftp-request.ts']],
      ['transport/tftp-request.ts', ['transport/endpoint.ts', 'protocol/path.ts']],
      ['transport/endpoint.ts', []],
      ['protocol/path.ts', []],
    ]);
    expect(upwardImports(graph, LOWER_FLOORS, UPPER_FLOORS)).toEqual([]);
    expect(importCycles(graph)).toEqual([]);
  });
});

describe('architecture: gateway/src', () => {
  const graph = importGraph(SRC);

  it('architecture: the import graph covers the tree (not read vacuously)', () => {
    expect(graph.size).toBeGreaterThan(100);
    // Edges known to exist, one per import form the tree uses.
    expect(graph.get('transport/listener.ts')).toContain('transport/endpoint.ts');
    expect(graph.get('handlers/request.ts')).toContain('transport/tftp-request.ts');
    expect(graph.get('index.ts')?.length).toBeGreaterThan(5);
    for (const [from, targets] of graph) {
      for (const to of targets) {
        // Every relative import resolves to a file of the tree or leaves it (sdk/, client/).
        if (!to.startsWith('..')) expect(graph.has(to) || !to.endsWith('.ts'), `${from} imports ${to}, which is not a file`).toBe(true);
      }
    }
  });

  it('architecture: no file in protocol/, session/, transport/ or admission/ imports handlers/, accept/, app/, cli/ or index.ts', () => {
    expect(upwardImports(graph, LOWER_FLOORS, UPPER_FLOORS)).toEqual([]);
  });

  it('architecture: the pure session floor imports only protocol/ and itself', () => {
    const reaching = [...graph]
      .filter(([from]) => floorOf(from) === 'session')
      .flatMap(([from, targets]) => targets.filter((to) => !['session', 'protocol'].includes(floorOf(to))).map((to) => `${from} -> ${to}`));
    expect(reaching).toEqual([]);
  });

  it('architecture: gateway/src has no import circles (type-only imports included)', () => {
    const cycles = importCycles(graph).map((c) => c.join(' -> '));
    expect(cycles).toEqual([]);
  });
});
