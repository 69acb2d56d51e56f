// Why a finished session must let go of what it points at (docs/PERFORMANCE.md, "Nepotism"):
// 20 live entries in a Map, one added and the oldest deleted per step, each value a small
// object graph (~2 KB) like a session. Deletes leave holes, and every few operations V8 builds
// the Map a new hash table; a table already in the old generation that is dead still points at
// the values it held (and at its successor table) until the next full collection, so the
// scavenger keeps them: they are promoted, and the next table with them. Three variants, each
// in a child node with --trace-gc-nvp and the gateway's semi-space limit:
//   map      values stay linked to their graph after the delete
//   cleared  the value drops its graph before the delete (what SessionTable.release does)
//   array    no Map at all (a queue), the floor
// Prints KB promoted per scavenge and mark-compacts for each. Not part of the test run.
//
//   node bench/gc-nepotism.mjs            # on this node
//   NODE=/path/to/node24 node bench/gc-nepotism.mjs
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const STEPS = 15_000;
const variant = process.argv[2];

if (variant) {
  const live = new Map();
  const queue = [];
  let k = 0;
  const graph = () => ({ parts: Array.from({ length: 40 }, (_, i) => ({ i })), name: `s${k}` });
  for (let step = 0; step < STEPS; step++) {
    for (let j = 0; j < 200; j++) {
      const key = `p${k++}`;
      if (variant === 'array') queue.push(graph());
      else {
        live.set(key, graph());
        queue.push(key);
      }
      if (queue.length > 20) {
        const old = queue.shift();
        if (variant === 'cleared') live.get(old).parts = null;
        if (variant !== 'array') live.delete(old);
      }
    }
  }
} else {
  const node = process.env.NODE ?? process.execPath;
  const self = fileURLToPath(import.meta.url);
  for (const v of ['map', 'cleared', 'array']) {
    const r = spawnSync(node, ['--max-semi-space-size=2', '--no-allocation-site-pretenuring', '--trace-gc-nvp', self, v], { encoding: 'utf8', maxBuffer: 256 << 20 });
    if (r.status !== 0) throw new Error(`${v}: exit ${r.status}: ${r.stderr}`);
    const promoted = [...r.stdout.matchAll(/gc=s .*? promoted=(\d+)/g)].map((m) => Number(m[1]));
    const mc = (r.stdout.match(/gc=mc /g) ?? []).length;
    const kb = promoted.reduce((a, b) => a + b, 0) / Math.max(1, promoted.length) / 1024;
    console.log(JSON.stringify({ node: spawnSync(node, ['--version'], { encoding: 'utf8' }).stdout.trim(), variant: v, scavenges: promoted.length, promotedKBPerScavenge: +kb.toFixed(1), markCompacts: mc }));
  }
}
