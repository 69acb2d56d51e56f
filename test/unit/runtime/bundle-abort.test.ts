/**
 * runtime/bundle.ts with a signal: real esbuild, a fixture function. An aborted build rejects
 * with the abort (never a BundleError, never a bundle); an unaborted one is unchanged.
 */
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { bundleFunction } from '../../../gateway/src/runtime/bundle.js';
import { FIXTURES } from '../../helpers/functions.js';

const entry = join(FIXTURES, 'behaviours.ts');

describe('bundle abort', () => {
  test('bundle: a signal aborted before the build starts rejects at once with its reason', async () => {
    const c = new AbortController();
    c.abort();
    await expect(bundleFunction(entry, { signal: c.signal })).rejects.toMatchObject({ name: 'AbortError' });
  });

  test('bundle: aborting a build under way rejects it with the abort, not a bundle error', async () => {
    const c = new AbortController();
    const built = bundleFunction(entry, { signal: c.signal });
    setImmediate(() => c.abort());
    const err = await built.then(() => undefined, (e: unknown) => e as Error);
    expect(err?.name).toBe('AbortError');
  });

  test('bundle: with a signal never aborted, the bundle is the same as without one', async () => {
    const c = new AbortController();
    const [a, b] = await Promise.all([bundleFunction(entry, { signal: c.signal }), bundleFunction(entry)]);
    expect(a.sha256).toBe(b.sha256);
    expect(a.code).toContain('function.mjs.map');
  });
});
