import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ManifestError, manifestPath, parseManifest, readManifest } from '../../../gateway/src/control/manifest.js';

function problems(input: unknown, file?: string): string[] {
  try {
    parseManifest(input, file);
  } catch (e) {
    expect(e).toBeInstanceOf(ManifestError);
    return [...(e as ManifestError).problems];
  }
  throw new Error('expected a ManifestError');
}

const dir = mkdtempSync(join(tmpdir(), 'tftpfn-manifest-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('manifest', () => {
  it('parse: every field, as given', () => {
    const m = {
      vars: { SITE: 'lab', _X: '1' },
      poolSize: 2,
      heapMb: 64,
      timeoutMs: 5000,
      maxConcurrent: 10,
      routes: [{ match: 'grub/*', stripPrefix: true }, { match: 'boot.ipxe' }],
    };
    expect(parseManifest(m)).toEqual(m);
    expect(parseManifest({})).toEqual({});
  });

  it('parse: limits use the config schema bounds and wording, naming the file and the field', () => {
    expect(problems({ poolSize: 0 })).toEqual(['tftpfn.json: poolSize: use a whole number from 1 to 256']);
    expect(problems({ heapMb: 8 }, 'fn/tftpfn.json')).toEqual(['fn/tftpfn.json: heapMb: use a whole number from 16 to 65536']);
    expect(problems({ timeoutMs: 1.5 })[0]).toBe('tftpfn.json: timeoutMs: use a whole number from 10 to 3600000');
    expect(problems({ maxConcurrent: 2_000_000 })[0]).toContain('maxConcurrent: use a whole number from 1 to 1000000');
  });

  it('parse: uploads opt in with the config\'s own fields, bounds and wording (issue 15)', () => {
    const m = { writes: true, maxUploadBytes: 67108864, maxUploadsPerClient: 2, allowOverwrite: false };
    expect(parseManifest(m)).toEqual(m);
    expect(problems({ writes: 'yes' })).toEqual(['tftpfn.json: writes: expected true or false, got the string "yes": use true or false']);
    expect(problems({ allowOverwrite: 1 })).toEqual(['tftpfn.json: allowOverwrite: expected true or false, got 1: use true or false']);
    expect(problems({ maxUploadBytes: -1 })).toEqual([`tftpfn.json: maxUploadBytes: use a whole number from 0 to ${Number.MAX_SAFE_INTEGER}`]);
    expect(problems({ maxUploadsPerClient: 0 })).toEqual(['tftpfn.json: maxUploadsPerClient: use a whole number from 1 to 100000']);
    expect(problems({ maxUploadBytes: '1000' })).toEqual(['tftpfn.json: maxUploadBytes: expected a JSON number, got the string "1000"']);
  });

  it('parse: numbers must be JSON numbers', () => {
    expect(problems({ poolSize: '2' })).toEqual(['tftpfn.json: poolSize: expected a JSON number, got the string "2"']);
    expect(problems({ poolSize: null })).toEqual(['tftpfn.json: poolSize: expected a JSON number, got null']);
  });

  it('parse: unknown keys are refused with the valid keys listed, also inside a route', () => {
    expect(problems({ poolsize: 2 })).toEqual(['tftpfn.json: unknown key "poolsize": valid keys are vars, poolSize, heapMb, timeoutMs, maxConcurrent, writes, maxUploadBytes, maxUploadsPerClient, allowOverwrite, routes']);
    expect(problems({ routes: [{ match: 'a/*', function: 'x' }] })).toEqual(['tftpfn.json: routes[0]: unknown key "function": valid keys are match, stripPrefix']);
  });

  it('parse: vars are text under names of letters, digits and _', () => {
    expect(problems({ vars: { SITE: 3 } })).toEqual(["tftpfn.json: vars.SITE: expected text, got 3"]);
    expect(problems({ vars: { 'bad-name': 'x' } })[0]).toContain('names are letters, digits and _');
  });

  it('parse: routes are checked like the route table (glob and stripPrefix)', () => {
    expect(problems({ routes: [{ match: 'boot.ipxe', stripPrefix: true }] })).toEqual([
      'tftpfn.json: routes[0].stripPrefix: "boot.ipxe" has no wildcard, so nothing would be left of the path; remove stripPrefix',
    ]);
    expect(problems({ routes: [{ match: 'a/*', stripPrefix: 3 }] })[0]).toBe('tftpfn.json: routes[0].stripPrefix: use true, false, or the leading path to strip, e.g. "tftpboot"');
    expect(problems({ routes: 'a/*' })[0]).toContain('routes: give a list of routes');
  });

  it('parse: not an object', () => {
    expect(problems([1])[0]).toBe('tftpfn.json: expected a JSON object like { "vars": {}, "poolSize": 1 }, got a list');
  });

  it('readManifest: tftpfn.json in the entry folder; {} when absent; bad JSON names the file', async () => {
    const fnDir = join(dir, 'grub');
    mkdirSync(fnDir);
    const entry = join(fnDir, 'index.ts');
    expect(manifestPath(entry)).toBe(join(fnDir, 'tftpfn.json'));
    expect(await readManifest(entry)).toEqual({});
    writeFileSync(join(fnDir, 'tftpfn.json'), JSON.stringify({ vars: { A: 'b' }, poolSize: 3 }));
    expect(await readManifest(entry)).toEqual({ vars: { A: 'b' }, poolSize: 3 });
    writeFileSync(join(fnDir, 'tftpfn.json'), '{ "poolSize": 3,, }');
    await expect(readManifest(entry)).rejects.toThrow(`${join(fnDir, 'tftpfn.json')}: not valid JSON`);
    writeFileSync(join(fnDir, 'tftpfn.json'), '{ "poolSize": 999 }');
    await expect(readManifest(entry)).rejects.toThrow(`${join(fnDir, 'tftpfn.json')}: poolSize: use a whole number from 1 to 256`);
  });
});
