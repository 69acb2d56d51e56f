/**
 * zod, as the gateway imports it. Under a TypeScript runner this is plain zod; in dist/ the
 * build (scripts/build.mjs) bundles zod into this one module instead of leaving the ~230 ESM
 * files of zod v4 (core, classic API and every locale) for Node to load one by one: that cost
 * ~7 MiB of a fresh gateway's RSS (issue 13, idle RSS ≤ 60 MiB; docs/PERFORMANCE.md "Memory").
 * Import zod from here, never from 'zod' directly, so the process holds one copy.
 */
export { z } from 'zod';
