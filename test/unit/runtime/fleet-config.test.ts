/**
 * The control plane's config (issue 12): which plane a config uses, the fields that must agree,
 * and the folders that must be usable at start, each failure naming its field.
 */
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { controlPlaneKind, requireWritableFolder } from '../../../gateway/src/config/checks.js';
import { parseConfig } from '../../../gateway/src/config/load.js';
import { startGateway } from '../../../gateway/src/app/start-gateway.js';
import { defaultControlCacheDir } from '../../../gateway/src/runtime/fleet-cache-dir.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
const temp = () => {
  const d = mkdtempSync(join(tmpdir(), 'fleet-config-'));
  dirs.push(d);
  return d;
};

describe('control plane config', () => {
  it('picks the deploy folder with deployDir, else Redis with redisUrl and an S3 store, else none; an explicit choice wins', () => {
    expect(controlPlaneKind({ deployDir: '/d' })).toBe('folder');
    expect(controlPlaneKind({ deployDir: '/d', redisUrl: 'redis://h', objectStore: 's3' })).toBe('folder');
    expect(controlPlaneKind({ redisUrl: 'redis://h', objectStore: 's3' })).toBe('redis');
    expect(controlPlaneKind({ redisUrl: 'redis://h', objectStore: 'local' })).toBeUndefined();
    expect(controlPlaneKind({})).toBeUndefined();
    expect(controlPlaneKind({ controlPlane: 'redis', deployDir: '/d' })).toBe('redis');
  });

  it('names the field when the chosen plane lacks what it needs, or both key fields are set', () => {
    expect(() => parseConfig({ controlPlane: 'folder' })).toThrow(/field "controlPlane".*set deployDir/s);
    expect(() => parseConfig({ controlPlane: 'redis', redisUrl: 'redis://127.0.0.1:6379' })).toThrow(/field "controlPlane".*objectStore "s3"/s);
    expect(() => parseConfig({ secretsKey: 'ab'.repeat(32), secretsKeyFile: '/k' })).toThrow(/field "secretsKeyFile"/);
    expect(() => parseConfig({ controlPrefix: '/abs/' })).toThrow(/field "controlPrefix"/);
    expect(() => parseConfig({ redisUrl: 'http://127.0.0.1:6379' })).toThrow(/field "redisUrl"/);
    const c = parseConfig({});
    expect([c.controlPollMs, c.controlBucket, c.controlPrefix]).toEqual([5000, 'tftpfn', 'control/']);
  });

  it('creates a missing deploy folder, and refuses one that is a file or cannot be written, naming the field', () => {
    const d = temp();
    requireWritableFolder('deployDir', join(d, 'new', 'deploy'));
    const file = join(d, 'file');
    writeFileSync(file, 'x');
    expect(() => requireWritableFolder('deployDir', file)).toThrow(/field "deployDir": .*file is not a folder/);
    expect(() => requireWritableFolder('controlCacheDir', join(file, 'below'))).toThrow(/field "controlCacheDir": .* is not a folder/);
    const ro = join(d, 'ro');
    requireWritableFolder('deployDir', ro);
    chmodSync(ro, 0o500);
    // Root writes whatever the mode says, so for root that folder is usable.
    if (process.getuid?.() === 0) expect(() => requireWritableFolder('deployDir', ro)).not.toThrow();
    else expect(() => requireWritableFolder('deployDir', ro)).toThrow(/field "deployDir": .*cannot be created or written/);
  });

  it('fails start when deployDir is a file, naming the field, before anything listens', async () => {
    const d = temp();
    const file = join(d, 'deploy');
    writeFileSync(file, 'x');
    await expect(startGateway({ config: { hosts: ['127.0.0.1'], port: 0, root: d, deployDir: file }, logger: pino({ level: 'silent' }) })).rejects.toThrow(/field "deployDir"/);
  });

  it('fails start on a secrets key that is not one, naming the field', async () => {
    await expect(
      startGateway({ config: { hosts: ['127.0.0.1'], port: 0, root: temp(), deployDir: temp(), secretsKey: 'short' }, logger: pino({ level: 'silent' }) }),
    ).rejects.toThrow(/field "secretsKey": not a key/);
  });

  it('gives each fleet its own default cache folder, and the same one to the gateways of one fleet', () => {
    const base = { controlBucket: 'b', controlPrefix: 'p/' };
    const a = defaultControlCacheDir({ ...base, redisUrl: 'redis://h:1' }, 'redis');
    expect(defaultControlCacheDir({ ...base, redisUrl: 'redis://h:1' }, 'redis')).toBe(a);
    expect(defaultControlCacheDir({ ...base, redisUrl: 'redis://h:2' }, 'redis')).not.toBe(a);
    expect(defaultControlCacheDir({ ...base, deployDir: '/srv/deploy' }, 'folder')).not.toBe(a);
    expect(a).toMatch(/tftpfn-control-[0-9a-f]{12}$/);
    expect(defaultControlCacheDir({ ...base, redisUrl: 'redis://:hunter2@h:1' }, 'redis')).not.toContain('hunter2');
  });
});
