/**
 * zod, as the gateway imports it. Under a TypeScript runner this is plain zod; in dist/ the
 * build (scripts/build.mjs) bundles zod into this one module instead of leaving the ~230 ESM
 * files of zod v4 (core, classic API and every locale) for Node to load one by one: 1-2 MiB
 * less RSS for a fresh gateway (issue 13, idle RSS; docs/PERFORMANCE.md "The 1 KiB row:
 * allocations and two V8 flags").
 * Import zod from here, never from 'zod' directly, so the process holds one copy.
 */
export { z } from 'zod';
