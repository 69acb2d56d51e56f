#!/usr/bin/env node
// The tftpfn command. The TypeScript sources are built to dist/ by `npm install` (prepare).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * V8 heap limits for `tftpfn serve` (issue 13, docs/PERFORMANCE.md "Memory"). V8 sizes its heap
 * for the machine's RAM: a 16 MiB semi-space (32 MiB of young generation) and an old generation
 * allowed to grow to about 4x its live size before a full collection. The gateway's live heap
 * is ~20 MiB, but a 1 KiB load let RSS climb to 160-175 MiB on garbage alone. With these limits
 * it peaked at 88-90 MiB for the same load (semi-space 1-2 MiB; an old-space cap of 512 MiB
 * also makes V8 grow the old generation about 1.7x instead of 4x), far above what 10,000
 * sessions hold (~16 MiB per 1,000).
 *
 * --no-allocation-site-pretenuring: V8 watched the first sessions' objects survive a scavenge
 * (a session lives a few ms, a scavenge comes every few ms under load) and from then on
 * allocated every session's objects straight into the old generation, so a 1 KiB load ran a
 * full mark-compact every ~220 ms. Without it: 35 -> 23 mark-compacts in 6 s, +10% requests/s,
 * p99 9.5 -> 7.2 ms on Node 20, +8% on Node 24 (docs/PERFORMANCE.md "The 1 KiB row: allocations and two V8 flags").
 *
 * --no-memory-reducer: after ~30 s without traffic V8's memory reducer runs shrinking
 * collections, and from then on the same 1 KiB load promoted ~235 KB per scavenge again and
 * ran at 68-71 µs of user CPU per request instead of 43-46 (13.4k -> 10.4k requests/s, p99
 * 5 -> 10.7 ms), for the life of the process. Most of that was nepotism (docs/PERFORMANCE.md
 * "Nepotism"): a released session-table entry no longer holds its session, and after the same
 * idle time the load now promotes ~35 KB per scavenge, but still costs 37 µs per request
 * instead of 24 (17.4k instead of 22.8k requests/s). A boot server idles between storms, so it
 * is off: the heap stays as the last burst left it, within the limits above (peak RSS under
 * 100 MiB on Node 20).
 */
const HEAP_FLAGS = ['--max-semi-space-size=2', '--max-old-space-size=512', '--no-allocation-site-pretenuring', '--no-memory-reducer'];

// The AWS SDK warns on every start under Node < 22 that its releases from January 2027 need
// Node 22 (process.emitWarning 'NodeVersionSupportWarning', @aws-sdk/core). It is not about
// anything the operator did today: `tftpfn serve` logs it once at debug instead. An operator
// who set the variable either way keeps their choice.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const main = new URL('../dist/gateway/src/cli/main.js', import.meta.url);
if (!existsSync(fileURLToPath(main))) {
  console.error('tftpfn: dist/ is missing; run `npm install` (or `npm run build`) in the tftpfn checkout first.');
  process.exit(1);
}

// Flags must be given when node starts. Where node can replace its own process image
// (process.execve: Node 22.15+, 23.11+), `serve` restarts itself with them once, keeping its
// pid, stdio and signals; elsewhere (Node 20) run `node --max-semi-space-size=2
// --max-old-space-size=512 --no-allocation-site-pretenuring --no-memory-reducer bin/tftpfn.js serve` or put them in
// NODE_OPTIONS. Heap flags the operator gave (on the command line or in NODE_OPTIONS) always win.
const given = [...process.execArgv, process.env.NODE_OPTIONS ?? ''].join(' ');
if (
  process.argv[2] === 'serve' &&
  typeof process.execve === 'function' &&
  !/--max-(semi|old)-space-size/.test(given)
) {
  try {
    process.execve(process.execPath, [process.execPath, ...HEAP_FLAGS, ...process.execArgv, ...process.argv.slice(1)], process.env);
  } catch {
    // Not allowed here (permission model, a platform without execve): run with V8's defaults.
  }
}
await import(main.href);
