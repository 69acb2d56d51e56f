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
