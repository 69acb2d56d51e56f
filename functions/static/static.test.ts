import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { invoke } from 'tftpfn/sdk';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { handle } from './index.js';

// Every byte value, past several 512-byte blocks and not a multiple of any block size.
const BINARY = Buffer.from(Array.from({ length: 70_001 }, (_, i) => (i * 7 + (i >> 8)) & 0xff));

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'tftpfn-static-'));
  await mkdir(join(root, 'boot/efi'), { recursive: true });
  await writeFile(join(root, 'boot/efi/ipxe.efi'), BINARY);
  await writeFile(join(root, 'hello.txt'), 'Hello from a folder!\n');
  await writeFile(join(root, 'empty'), '');
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('static', () => {
  test('static: serves a binary file byte for byte, with its size as tsize', async () => {
    const result = await invoke(handle, 'boot/efi/ipxe.efi', {}, { root });
    expect(result.errorCode).toBeUndefined();
    expect(result.response).toEqual({ kind: 'file', path: 'boot/efi/ipxe.efi' });
    expect(result.body.equals(BINARY)).toBe(true);
    expect([result.size, result.tsize]).toEqual([70_001, 70_001]);
  });

  test('static: a leading slash and doubled slashes mean the same file under the root', async () => {
    const result = await invoke(handle, '//boot/./efi//ipxe.efi', {}, { root });
    expect(result.response).toEqual({ kind: 'file', path: 'boot/efi/ipxe.efi' });
    expect(result.body.equals(BINARY)).toBe(true);
  });

  test('static: a text file and an empty file', async () => {
    const hello = await invoke(handle, 'hello.txt', {}, { root });
    expect(hello.body.toString()).toBe('Hello from a folder!\n');
    const empty = await invoke(handle, 'empty', {}, { root });
    expect([empty.errorCode, empty.size, empty.tsize]).toEqual([undefined, 0, 0]);
  });

  test('static: a missing file, or a folder, is ERROR 1 file not found', async () => {
    for (const path of ['missing.bin', 'boot/efi', 'hello.txt/x']) {
      const result = await invoke(handle, path, {}, { root });
      expect([path, result.errorCode, result.errorMessage, result.size]).toEqual([path, 1, 'file not found', 0]);
    }
  });

  test('static: ".." is refused with ERROR 2 before the function runs', async () => {
    for (const path of ['../etc/passwd', 'boot/../../etc/passwd', '/..', 'boot\\..\\x', '%2e%2e/etc/passwd']) {
      const result = await invoke(handle, path, {}, { root });
      expect([path, result.errorCode, result.errorMessage]).toEqual([path, 2, 'access violation']);
      // The handler was never called: the gateway refuses such paths itself.
      expect([path, result.request, result.response]).toEqual([path, undefined, undefined]);
    }
  });

  test('static: a write request is refused with ERROR 2', async () => {
    const result = await invoke(handle, { path: 'hello.txt', kind: 'write' }, {}, { root });
    expect([result.errorCode, result.errorMessage]).toEqual([2, 'access violation']);
  });
});

describe('static: from a bucket (env.vars.BUCKET)', () => {
  let bucketsDir: string;
  beforeAll(async () => {
    bucketsDir = await mkdtemp(join(tmpdir(), 'tftpfn-static-buckets-'));
    await mkdir(join(bucketsDir, 'boot-images/tftp/boot/efi'), { recursive: true });
    await writeFile(join(bucketsDir, 'boot-images/tftp/boot/efi/ipxe.efi'), BINARY);
    await writeFile(join(bucketsDir, 'boot-images/hello.txt'), 'Hello from a bucket!\n');
  });
  afterAll(async () => {
    await rm(bucketsDir, { recursive: true, force: true });
  });

  test('static: with BUCKET set, the path is an object key in that bucket', async () => {
    const result = await invoke(handle, 'hello.txt', { vars: { BUCKET: 'boot-images' } }, { root, bucketsDir });
    expect(result.response).toEqual({ kind: 'object', bucket: 'boot-images', key: 'hello.txt', versionId: undefined });
    expect(result.body.toString()).toBe('Hello from a bucket!\n');
  });

  test('static: PREFIX is put in front of the key; the bytes and tsize are the object\'s', async () => {
    const result = await invoke(handle, '/boot//efi/ipxe.efi', { vars: { BUCKET: 'boot-images', PREFIX: 'tftp/' } }, { root, bucketsDir });
    expect(result.response).toEqual({ kind: 'object', bucket: 'boot-images', key: 'tftp/boot/efi/ipxe.efi', versionId: undefined });
    expect(result.body.equals(BINARY)).toBe(true);
    expect([result.size, result.tsize]).toEqual([70_001, 70_001]);
  });

  test('static: a missing object is ERROR 1; the root folder is not consulted', async () => {
    for (const path of ['missing.bin', 'boot/efi/ipxe.efi']) {
      const result = await invoke(handle, path, { vars: { BUCKET: 'boot-images' } }, { root, bucketsDir });
      expect([path, result.errorCode, result.errorMessage]).toEqual([path, 1, 'file not found']);
    }
  });

  test('static: an empty BUCKET means the folder, as when it is unset', async () => {
    const result = await invoke(handle, 'hello.txt', { vars: { BUCKET: '' } }, { root, bucketsDir });
    expect(result.response).toEqual({ kind: 'file', path: 'hello.txt' });
    expect(result.body.toString()).toBe('Hello from a folder!\n');
  });

  test('static: a bucket name S3 would refuse is ERROR 0, with the reason for the logs', async () => {
    const result = await invoke(handle, 'hello.txt', { vars: { BUCKET: 'Boot_Images' } }, { root, bucketsDir });
    expect([result.errorCode, result.errorMessage]).toEqual([0, 'internal error']);
    expect(String(result.thrown)).toMatch(/bucket must be a valid bucket name/);
  });
});
