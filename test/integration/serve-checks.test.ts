/**
 * `tftpfn serve` start-up checks (issue 9 §5): a root that cannot be served fails at start with
 * the field named, instead of reporting "listening" and failing every request; misspelt
 * TFTPFN_* variables and metrics on every interface are warned about on stderr.
 */
import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BIN, runCli, spawnCli } from '../helpers/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'tftpfn-serve-checks-'));
chmodSync(dir, 0o755);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('serve: the root is checked at start', () => {
  it('serve: a root that does not exist exits 2 naming the field and the flag, without listening', async () => {
    const missing = join(dir, 'nope');
    const r = await runCli(['serve', '--host', '127.0.0.1', '--port', '0', '--root', missing], { timeoutMs: 20_000 });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`field "root" (from flag --root): ${missing} does not exist`);
    expect(r.stdout).not.toContain('listening');
  });

  it('serve: a root the gateway user cannot read exits 2 (run as nobody when the suite runs as root)', async () => {
    const locked = mkdtempSync(join(dir, 'locked-'));
    chmodSync(locked, 0o000);
    // Root reads any folder whatever its mode, so the gateway runs as nobody (uid 65534) then.
    const uid = process.getuid?.() === 0 ? 65534 : undefined;
    const r = await new Promise<{ code: number | null; stderr: string; stdout: string }>((resolve) => {
      const child = spawn(process.execPath, [BIN, 'serve', '--host', '127.0.0.1', '--port', '0', '--root', locked], { cwd: dir, ...(uid === undefined ? {} : { uid, gid: uid }) });
      let stdout = '';
      let stderr = '';
      child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
      child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
      const bound = setTimeout(() => child.kill('SIGKILL'), 20_000);
      child.on('exit', (code) => {
        clearTimeout(bound);
        resolve({ code, stdout, stderr });
      });
    });
    chmodSync(locked, 0o700);
    expect(r.stderr).toContain(`field "root" (from flag --root): ${locked} cannot be read by this user`);
    expect(r.code).toBe(2);
    expect(r.stdout).not.toContain('listening');
  });
});

describe('serve: warnings at start', () => {
  it('serve: a misspelt TFTPFN_ variable and metricsHost 0.0.0.0 are warned about, and the gateway still starts', async () => {
    const root = mkdtempSync(join(dir, 'root-'));
    const config = join(dir, 'metrics.json');
    writeFileSync(config, JSON.stringify({ metricsHost: '0.0.0.0', metricsPort: 0 }));
    const run = spawnCli(['serve', '-c', config, '--host', '127.0.0.1', '--port', '0', '--root', root], { env: { TFTPFN_PROT: '6969' }, timeoutMs: 30_000 });
    let out = '';
    run.child.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      if (out.includes('"event":"listening"')) run.child.kill('SIGTERM');
    });
    const r = await run.done;
    expect(r.stdout).toContain('"event":"listening"');
    expect(r.stderr).toContain('tftpfn serve: warning: unknown environment variable TFTPFN_PROT is ignored: did you mean TFTPFN_PORT?');
    expect(r.stderr).toMatch(/warning: metricsHost 0\.0\.0\.0 serves \/metrics, \/healthz and \/readyz on every interface/);
    expect(r.stdout).toContain('"event":"configWarning"');
  });
});
