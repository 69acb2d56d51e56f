/**
 * A version's pool settings (runtime/version-settings.ts; issue 12): the config's, with the
 * version's over them and the control plane's secrets, within the config schema's bounds.
 */
import { describe, expect, it } from 'vitest';
import { functionConfigSchema } from '../../../gateway/src/config/schema.js';
import { versionSettings } from '../../../gateway/src/runtime/version-settings.js';

const base = functionConfigSchema.parse({ poolSize: 2, timeoutMs: 4000, vars: { SITE: 'a', ZONE: 'z' }, secrets: { OLD: 'o' }, isolation: 'thread' });

describe('version settings', () => {
  it('are the config when the version brings none', () => {
    expect(versionSettings(base, { version: 'v', bundlePath: '/b' })).toBe(base);
  });

  it('take the version\'s limits and vars over the config\'s, and the control plane\'s secrets over the config\'s', () => {
    const s = versionSettings(base, {
      version: 'v',
      bundlePath: '/b',
      settings: { poolSize: 3, heapMb: 64, timeoutMs: 900, maxConcurrent: 8, vars: { SITE: 'b' } },
      secrets: { TOKEN: 't', OLD: 'n' },
    });
    expect([s.poolSize, s.heapMb, s.timeoutMs, s.maxConcurrent]).toEqual([3, 64, 900, 8]);
    expect(s.vars).toEqual({ SITE: 'b', ZONE: 'z' });
    expect(s.secrets).toEqual({ OLD: 'n', TOKEN: 't' });
    // What the version does not speak of stays the operator's.
    expect(s.isolation).toBe('thread');
  });

  it('refuse a version whose settings break the schema\'s bounds, naming the field', () => {
    expect(() => versionSettings(base, { version: 'v9', bundlePath: '/b', settings: { poolSize: 10_000 } })).toThrow(/version v9: its settings are not usable: field "poolSize"/);
    expect(() => versionSettings(base, { version: 'v9', bundlePath: '/b', settings: { vars: { 'bad-name': 'x' } } })).toThrow(/field "vars/);
  });
});
