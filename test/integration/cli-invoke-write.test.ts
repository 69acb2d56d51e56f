/**
 * `tftpfn invoke` with a body (--write, --body FILE, --body -, --tsize, --max-upload-bytes): a
 * write function run as a real child process, in both isolations, gives what the SDK harness
 * `invoke(fn, { kind: 'write', body })` gives in-process (the same code path: invoke-once.ts
 * feeds the body through that harness), and prints where the upload would go. Needs the build.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { invoke } from '../../sdk/invoke.js';
import { handle } from '../fixtures/functions/upload-sink.js';
import { BIN, runCli } from '../helpers/cli.js';
import { seededBytes } from '../helpers/seeded.js';

const ENTRY = resolve('test/fixtures/functions/upload-sink.ts');
const SEED = 1503;
let work: string;
let bodyPath: string;
const body = seededBytes(SEED, 300_007);
const sha = createHash('sha256').update(body).digest('hex');

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'tftpfn-invoke-write-'));
  bodyPath = join(work, 'running-config');
  writeFileSync(bodyPath, body);
});
afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

const tftpfn = (args: string[]) => runCli(['invoke', ENTRY, ...args], { cwd: work, timeoutMs: 60_000 });

/** `tftpfn invoke ... --body -` with `bytes` on stdin. */
function withStdin(args: string[], bytes: Uint8Array): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [BIN, 'invoke', ENTRY, ...args], { cwd: work });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    const bound = setTimeout(() => {
      child.kill('SIGKILL');
      fail(new Error(`invoke --body - still running after 60 s: ${stderr}`));
    }, 60_000);
    child.on('exit', (code) => {
      clearTimeout(bound);
      done({ code, stdout, stderr });
    });
    child.stdin.end(bytes);
  });
}

describe.each(['process', 'thread'] as const)('tftpfn invoke --body, isolation %s', (isolation) => {
  it('--body FILE --tsize: the function reads every byte (sha256 as sent), the declared tsize is the file size, accepted; the same as the SDK harness; exit 0', async () => {
    const r = await tftpfn(['--path', 'sw1-confg', '--body', bodyPath, '--tsize', '--json', '--isolation', isolation]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const cli = JSON.parse(r.stdout) as Record<string, unknown>;
    const harness = await invoke(handle, { path: 'sw1-confg', kind: 'write', body, options: { tsize: String(body.length) } });
    expect(cli).toMatchObject({ kind: 'accepted', received: body.length, logs: [`[info] body read {"sha256":"${sha}","bytes":${body.length},"tsize":${body.length}}`] });
    expect({ kind: harness.response?.kind, received: harness.received, errorCode: harness.errorCode, logs: harness.logs.map((l) => l.obj) }).toEqual({
      kind: cli.kind,
      received: cli.received,
      errorCode: undefined,
      logs: [{ sha256: sha, bytes: body.length, tsize: body.length }],
    });
  }, 90_000);

  it('--body - reads stdin; s3Put() prints where the gateway would store it and how many bytes', async () => {
    const r = await withStdin(['--path', 'put-sw2', '--body', '-', '--isolation', isolation], body);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('response: put');
    expect(r.stdout).toContain(`upload: stored as s3://backups/dev/sw2, ${body.length} bytes`);
    expect(r.stdout).toContain('text/plain');
    const harness = await invoke(handle, { path: 'put-sw2', kind: 'write', body });
    expect(harness.stored).toMatchObject({ bucket: 'backups', key: 'dev/sw2', contentType: 'text/plain' });
    expect(harness.stored!.body.length).toBe(body.length);
  }, 90_000);

  it('denied() after reading: ERROR 2 with its message, exit 1; discard(): exit 0', async () => {
    const denied = await tftpfn(['--path', 'deny-x', '--body', bodyPath, '--isolation', isolation]);
    expect(denied.code).toBe(1);
    expect(denied.stdout).toContain('response: error');
    expect(denied.stdout).toContain(`received: ${body.length} bytes`);
    expect(denied.stdout).toContain('error: 2 no thanks (the client gets an ERROR packet)');
    const dropped = await tftpfn(['--path', 'drop-x', '--body', bodyPath, '--isolation', isolation]);
    expect(dropped.code).toBe(0);
    expect(dropped.stdout).toContain('upload: discarded');
  }, 90_000);

  it('--max-upload-bytes: a larger declared tsize is ERROR 3 before the function runs; a larger body without tsize is ERROR 3 while it reads', async () => {
    const declared = await tftpfn(['--path', 'x', '--body', bodyPath, '--tsize', '--max-upload-bytes', '1000', '--json', '--isolation', isolation]);
    expect(declared.code).toBe(1);
    expect(JSON.parse(declared.stdout)).toMatchObject({ kind: 'none', errorCode: 3, errorMessage: 'upload too large', logs: [] });
    const read = await tftpfn(['--path', 'x', '--body', bodyPath, '--max-upload-bytes', '100000', '--json', '--isolation', isolation]);
    expect(read.code).toBe(1);
    const out = JSON.parse(read.stdout) as { errorCode: number; received: number };
    expect(out.errorCode).toBe(3);
    // Handed over in the gateway's 64 KiB messages up to the limit, not past it.
    expect(out.received).toBeLessThanOrEqual(100_000);
    expect(out.received).toBeGreaterThan(0);
  }, 90_000);
});

describe('tftpfn invoke --write: usage', () => {
  it('--write alone is an empty upload; --tsize without a write, or an unreadable --body, exit 2 with the fix', async () => {
    const empty = await tftpfn(['--path', 'x', '--write', '--json']);
    expect(empty.code).toBe(0);
    expect(JSON.parse(empty.stdout)).toMatchObject({ kind: 'accepted', received: 0, logs: [`[info] body read {"sha256":"${createHash('sha256').digest('hex')}","bytes":0,"tsize":null}`] });
    const noWrite = await tftpfn(['--path', 'x', '--tsize', '5']);
    expect(noWrite.code).toBe(2);
    expect(noWrite.stderr).toContain('add --write');
    const missing = await tftpfn(['--path', 'x', '--body', join(work, 'nope')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('cannot be read (ENOENT); give a file, or - to read stdin');
  }, 90_000);
});
