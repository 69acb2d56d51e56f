/**
 * `tftpfn invoke` runs a function in the gateway's sandbox, so an author sees behind-the-gateway
 * failures before deploying: reading /etc/passwd or opening a socket fails under `invoke` as it
 * does in the gateway, and `--isolation thread` shows what the trusted opt-out allows.
 */
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { FIXTURES } from '../helpers/functions.js';

const hostile = join(FIXTURES, 'hostile.ts');

describe('tftpfn invoke behaves like the gateway', () => {
  test('by default a file read outside the bundle is refused with the sandbox error; exit 1', async () => {
    const r = await runCli(['invoke', hostile, '--path', 'read-file', '--option', 'file=/etc/passwd'], { timeoutMs: 60_000 });
    expect(r.code, r.stderr).toBe(1);
    expect(r.stdout).toContain('error: 0 internal error');
    expect(r.stdout).toContain('Access to this API has been restricted');
    expect(r.stdout).not.toContain('root:');
  });

  test('by default the network is refused', async () => {
    const r = await runCli(['invoke', hostile, '--path', 'net-import', '--option', 'port=9'], { timeoutMs: 60_000 });
    expect(r.code, r.stderr).toBe(1);
    expect(r.stdout).toContain('is not available to a function: it runs in a sandbox');
  });

  test('--isolation thread runs it as trusted code: the read succeeds', async () => {
    const r = await runCli(['invoke', hostile, '--path', 'read-file', '--option', 'file=/etc/passwd', '--isolation', 'thread'], { timeoutMs: 60_000 });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('root:');
  });
});
