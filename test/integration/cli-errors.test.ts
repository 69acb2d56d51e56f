/**
 * Issue 14: `deploy` to a folder it cannot write and `tail` with Redis down each print one
 * line that names what and how to fix it, instead of a raw EACCES or ioredis internals.
 */
import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { plainRedisError } from '../../gateway/src/cli/tail.js';
import { BIN, runCli } from '../helpers/cli.js';
import { freePort } from '../helpers/free-port.js';

const dir = mkdtempSync(join(tmpdir(), 'tftpfn-cli-errors-'));
chmodSync(dir, 0o755);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function run(args: string[], uid: number | undefined): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: dir, ...(uid === undefined ? {} : { uid, gid: uid }), env: { ...process.env, HOME: dir } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const bound = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`still running: ${stdout} ${stderr}`));
    }, 30_000);
    child.on('exit', (code) => {
      clearTimeout(bound);
      resolve({ code, stdout, stderr });
    });
  });
}

describe('CLI errors name the fix (issue 14)', () => {
  it('deploy: a deploy folder this user cannot write names the folder and the fix, not a raw EACCES', async () => {
    writeFileSync(join(dir, 'fn.ts'), "export default { handle() { return 'x'; } };\n");
    const locked = join(dir, 'locked');
    mkdirSync(locked);
    chmodSync(locked, 0o555);
    // Root writes anywhere: run as nobody then.
    const uid = process.getuid?.() === 0 ? 65534 : undefined;
    const r = await run(['deploy', 'fn.ts', '--name', 'f', '--deploy-dir', join(locked, 'deploy')], uid);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toEqual([
      `tftpfn deploy: ${join(locked, 'deploy')} cannot be written by this user (EACCES on mkdir): run deploy as the user that owns the deploy folder (the gateway's), give that user write access (e.g. chown -R USER FOLDER), or point --deploy-dir / deployDir at a folder you can write; nothing was published`,
    ]);
  }, 40_000);

  it('tail: Redis down is one line naming the URL and the fix, exit 2', async () => {
    const port = await freePort();
    const r = await runCli(['tail', '--redis-url', `redis://127.0.0.1:${port}`], { timeoutMs: 20_000 });
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(new RegExp(`^tftpfn tail: cannot reach Redis at redis://127\\.0\\.0\\.1:${port} \\(connect ECONNREFUSED 127\\.0\\.0\\.1:${port}\\): is redis-server running there\\? Check --redis-url or TFTPFN_REDIS_URL$`));
  }, 30_000);

  it('tail: behind Sentinel, no ioredis retry schedule in the message', async () => {
    const port = await freePort();
    const r = await runCli(['tail', '--redis-url', `redis-sentinel://127.0.0.1:${port}/mymaster`], { timeoutMs: 20_000 });
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).not.toMatch(/Retrying|Last error|ioredis|\n\s+at /);
    expect(plainRedisError('All sentinels are unreachable. Retrying from scratch after 1400ms. Last error: Connection is closed.')).toBe('All sentinels are unreachable.');
  }, 30_000);
});
