/**
 * `tftpfn get` against a real gateway: the file arrives whole, a failure exits non-zero with
 * the server's error and leaves no partial file.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { seededBytes } from '../helpers/seeded.js';

const bin = fileURLToPath(new URL('../../bin/tftpfn.js', import.meta.url));
const body = seededBytes(0x6e7, 300_000);

describe('tftpfn get', () => {
  let gw: TestGateway;
  let out: string;

  beforeAll(async () => {
    if (!existsSync(fileURLToPath(new URL('../../dist/gateway/src/cli/main.js', import.meta.url)))) {
      spawnSync('npm', ['run', 'build'], { stdio: 'ignore' });
    }
    gw = await startTestGateway({ files: { 'boot/vmlinuz': body } });
    out = mkdtempSync(join(tmpdir(), 'tftpfn-get-'));
  });
  afterAll(async () => {
    await gw?.stop();
    rmSync(out, { recursive: true, force: true });
  });

  // Asynchronous on purpose: the gateway runs in this process and must keep answering.
  const run = (...args: string[]) =>
    new Promise<{ status: number | null; stdout: Buffer; stderr: Buffer }>((resolve) => {
      const child = spawn(process.execPath, [bin, 'get', ...args], { cwd: out, timeout: 30_000 });
      const stdout: Buffer[] = [];
      const stderr: Buffer[] = [];
      child.stdout.on('data', (b: Buffer) => stdout.push(b));
      child.stderr.on('data', (b: Buffer) => stderr.push(b));
      child.on('close', (status) => resolve({ status, stdout: Buffer.concat(stdout), stderr: Buffer.concat(stderr) }));
    });

  it('get: downloads a file byte-identical, with blksize and windowsize', async () => {
    const r = await run(`127.0.0.1:${gw.port}`, 'boot/vmlinuz', '-o', 'k', '--blksize', '1468', '--windowsize', '16');
    expect(r.status).toBe(0);
    expect(readFileSync(join(out, 'k')).equals(body)).toBe(true);
    expect(r.stderr.toString()).toMatch(/300000 bytes .* blksize 1468, windowsize 16/);
  });

  it('get: without -o the file is named after the basename of the path; -o - writes to stdout', async () => {
    expect((await run(`127.0.0.1:${gw.port}`, '/boot/vmlinuz')).status).toBe(0);
    expect(readFileSync(join(out, 'vmlinuz')).equals(body)).toBe(true);
    const r = await run(`127.0.0.1:${gw.port}`, 'boot/vmlinuz', '-o', '-');
    expect(r.status).toBe(0);
    expect(r.stdout.equals(body)).toBe(true);
  });

  it('get: a missing file exits 1 with the server error and leaves no file behind', async () => {
    const before = readdirSync(out).length;
    const r = await run(`127.0.0.1:${gw.port}`, 'nope.bin', '-o', 'nope.bin');
    expect(r.status).toBe(1);
    expect(r.stderr.toString()).toContain('server answered ERROR 1: file not found');
    expect(readdirSync(out).length).toBe(before);
  });

  it('get: a bad target or option value exits with a usage error', async () => {
    expect((await run('[::1', 'x')).status).toBe(2);
    const r = await run(`127.0.0.1:${gw.port}`, 'x', '--blksize', '4');
    expect(r.status).not.toBe(0);
    expect(r.stderr.toString()).toContain('expected a whole number from 8 to 65464');
  });
});
