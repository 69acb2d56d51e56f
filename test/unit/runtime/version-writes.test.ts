/**
 * Uploads a deployed version asks for in its manifest (runtime/version-settings.ts; issue 15):
 * honoured only within the gateway's config. The config's writes (or allowManifestWrites) must
 * consent, and its limits are ceilings a manifest can only lower.
 */
import { describe, expect, it } from 'vitest';
import { functionConfigSchema } from '../../../gateway/src/config/schema.js';
import { versionSettings, versionWrites, writesRefused, type WritePolicy } from '../../../gateway/src/runtime/version-settings.js';

const GIB = 1024 * 1024 * 1024;
const off = functionConfigSchema.parse({});
const on = functionConfigSchema.parse({ writes: true, maxUploadBytes: 1000, maxUploadsPerClient: 8, allowOverwrite: true });
const allow: WritePolicy = { allowManifestWrites: true, maxUploadBytes: GIB };
const forbid: WritePolicy = { allowManifestWrites: false, maxUploadBytes: GIB };
const spec = (settings: object) => ({ version: 'v1', bundlePath: '/b', settings });

describe('version writes', () => {
  it('a manifest without upload fields leaves the config\'s as they are', () => {
    expect(versionWrites(on, { poolSize: 2 }, allow)).toEqual({ writes: true, maxUploadBytes: 1000, maxUploadsPerClient: 8, allowOverwrite: true });
    expect(versionWrites(off, undefined, allow)).toEqual({ writes: false, maxUploadBytes: undefined, maxUploadsPerClient: 4, allowOverwrite: false });
  });

  it('writes: true turns uploads on where allowManifestWrites allows it, and not where it does not', () => {
    expect(versionWrites(off, { writes: true }, allow).writes).toBe(true);
    expect(versionWrites(off, { writes: true }, forbid).writes).toBe(false);
    expect(writesRefused(off, spec({ writes: true }), forbid)).toBe(true);
    expect(writesRefused(off, spec({ writes: true }), allow)).toBe(false);
  });

  it('functions.NAME.writes in the config is the operator\'s consent on its own; a manifest may still turn writes off', () => {
    expect(versionWrites(on, { writes: true }, forbid).writes).toBe(true);
    expect(writesRefused(on, spec({ writes: true }), forbid)).toBe(false);
    expect(versionWrites(on, { writes: false }, allow).writes).toBe(false);
  });

  it('limits: the config\'s are ceilings (maxUploadBytes falls back to the gateway\'s); a manifest can only lower them', () => {
    expect(versionWrites(on, { maxUploadBytes: 10 * GIB, maxUploadsPerClient: 100 }, allow)).toMatchObject({ maxUploadBytes: 1000, maxUploadsPerClient: 8 });
    expect(versionWrites(on, { maxUploadBytes: 10, maxUploadsPerClient: 1 }, allow)).toMatchObject({ maxUploadBytes: 10, maxUploadsPerClient: 1 });
    expect(versionWrites(off, { writes: true, maxUploadBytes: 10 * GIB }, { allowManifestWrites: true, maxUploadBytes: 5000 }).maxUploadBytes).toBe(5000);
    expect(versionWrites(off, { writes: true, maxUploadsPerClient: 50 }, allow).maxUploadsPerClient).toBe(4);
  });

  it('allowOverwrite only when both the manifest (or the config, unsaid) and the config say so', () => {
    expect(versionWrites(off, { writes: true, allowOverwrite: true }, allow).allowOverwrite).toBe(false);
    expect(versionWrites(on, { allowOverwrite: false }, allow).allowOverwrite).toBe(false);
    expect(versionWrites(on, { writes: true }, allow).allowOverwrite).toBe(true);
  });

  it('versionSettings applies them: a deployed version\'s pool settings carry the narrowed upload fields', () => {
    const s = versionSettings(off, spec({ writes: true, maxUploadBytes: 2048, allowOverwrite: true }), allow);
    expect([s.writes, s.maxUploadBytes, s.maxUploadsPerClient, s.allowOverwrite]).toEqual([true, 2048, 4, false]);
    // Without a policy (a caller that has none) nothing beyond the config is granted.
    expect(versionSettings(off, spec({ writes: true })).writes).toBe(false);
  });
});
