/**
 * Issue 14's config messages: each names the field and the fix.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, envWarnings, loadConfig } from '../../../gateway/src/config/load.js';

const dir = mkdtempSync(join(tmpdir(), 'tftpfn-config-errors-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function errorOf(input: Parameters<typeof loadConfig>[0]): string {
  try {
    loadConfig(input);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as Error).message;
  }
  throw new Error('expected a ConfigError');
}

describe('config errors (issue 14)', () => {
  it('serve: with no --root, TFTPFN_ROOT or config file, it refuses to share the working directory, naming the flag', () => {
    expect(errorOf({ env: {}, serve: true })).toMatch(/no folder to serve: give --root DIR \(or TFTPFN_ROOT, or "root" in a config file/);
    expect(loadConfig({ env: { TFTPFN_ROOT: dir }, serve: true }).root).toBe(dir);
    expect(loadConfig({ env: {}, flags: { root: dir }, serve: true }).root).toBe(dir);
    // Other verbs (control-plane clients) keep the default.
    expect(loadConfig({ env: {} }).root).toBe('.');
  });

  it('relative paths in a config file resolve against the file\'s folder, not the working directory', () => {
    const etc = join(dir, 'etc');
    mkdirSync(join(etc, 'tftproot'), { recursive: true });
    const file = join(etc, 'gateway.json');
    writeFileSync(
      file,
      JSON.stringify({
        root: 'tftproot',
        bucketsDir: './buckets',
        deployDir: 'deploy',
        writeRoot: '/abs/uploads',
        functions: { f: { entry: '../fn/index.ts', root: 'tftproot' } },
        routes: [{ match: 'x/**', folder: 'tftproot' }],
        defaultRoute: { folder: 'tftproot' },
      }),
    );
    const c = loadConfig({ configFile: file, env: {}, serve: true });
    expect(c.root).toBe(join(etc, 'tftproot'));
    expect(c.bucketsDir).toBe(join(etc, 'buckets'));
    expect(c.deployDir).toBe(join(etc, 'deploy'));
    expect(c.writeRoot).toBe('/abs/uploads');
    expect(c.functions.f.entry).toBe(join(dir, 'fn', 'index.ts'));
    expect(c.functions.f.root).toBe(join(etc, 'tftproot'));
    expect((c.routes[0] as { folder?: string }).folder).toBe(join(etc, 'tftproot'));
    expect((c.defaultRoute as { folder?: string }).folder).toBe(join(etc, 'tftproot'));
    // A flag stays relative to the working directory.
    expect(loadConfig({ configFile: file, env: {}, flags: { bucketsDir: 'b' } }).bucketsDir).toBe('b');
  });

  it("a function's missing root names functions.NAME.root and the fix, not a raw lstat error", () => {
    const file = join(dir, 'fnroot.json');
    writeFileSync(file, JSON.stringify({ root: '.', functions: { grub: { entry: '/x/index.ts', root: 'nope' } } }));
    const msg = errorOf({ configFile: file, env: {}, serve: true });
    expect(msg).toContain(`field "functions.grub.root" (from config file ${file}): ${join(dir, 'nope')} does not exist: create it, or point functions.grub.root at`);
    expect(msg).not.toMatch(/lstat|ENOENT/);
  });

  it('a mistyped route key lists the valid keys and suggests the nearest', () => {
    const file = join(dir, 'route.json');
    writeFileSync(file, JSON.stringify({ root: '.', routes: [{ match: 'a*', fuction: 'x' }] }));
    const msg = errorOf({ configFile: file, env: {} });
    expect(msg).toMatch(/field "routes\.0" \(from config file .*\): unknown key "fuction" \(did you mean "function"\?\); the keys are match, .*function/);
  });

  it('a mistyped top-level field suggests the nearest field', () => {
    const file = join(dir, 'top.json');
    writeFileSync(file, JSON.stringify({ root: '.', maxBlocksize: 1468 }));
    expect(errorOf({ configFile: file, env: {} })).toContain('unknown field(s) "maxBlocksize" (did you mean "maxBlockSize"?)');
  });

  it('an unknown TFTPFN_ variable is warned about with the nearest known name; names the code reads are not', () => {
    expect(envWarnings({ TFTPFN_PROT: '69' })).toEqual(['unknown environment variable TFTPFN_PROT is ignored: did you mean TFTPFN_PORT?']);
    expect(envWarnings({ TFTPFN_DEPLOY_AUTHOR: 'me', TFTPFN_TEST_SEED: '1', TFTPFN_QEMU: '/usr/bin/qemu', TFTPFN_PROCESS_SLOT: '0' })).toEqual([]);
    const seen: string[] = [];
    loadConfig({ env: { TFTPFN_REDIS_ULR: 'redis://x' }, onWarning: (w) => seen.push(w) });
    expect(seen).toEqual(['unknown environment variable TFTPFN_REDIS_ULR is ignored: did you mean TFTPFN_REDIS_URL?']);
  });

  it('a value of the wrong kind names what came and the field, in the gateway\'s words (no schema library jargon)', () => {
    const lines = (config: Record<string, unknown>) => errorOf({ configFile: undefined, env: {}, flags: config }).split('\n').slice(1);
    expect(lines({ root: '' })).toEqual(['  - field "root" (from flag --root): must not be empty']);
    expect(lines({ hosts: [1] })).toEqual(['  - field "hosts.0" (from flag --hosts): expected text, got 1']);
    expect(lines({ logLevel: 'loud' })).toEqual(['  - field "logLevel" (from flag --log-level): use one of "fatal", "error", "warn", "info", "debug", "trace", "silent"; got the string "loud"']);
    expect(lines({ functions: { grub: { vars: { 'bad-name': 'x', OK: 5 } } } })).toEqual([
      '  - field "functions.grub.vars.bad-name" (from flag --functions): names are letters, digits and _',
      '  - field "functions.grub.vars.OK" (from flag --functions): expected text, got 5',
    ]);
    expect(lines({ routes: 5 })).toEqual(['  - field "routes" (from flag --routes): expected a list, got 5']);
  });
});
