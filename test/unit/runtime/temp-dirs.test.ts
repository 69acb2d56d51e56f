import { existsSync, mkdirSync, mkdtempSync, readlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { makeTempDir, removeTempDir, sweepStaleTempDirs } from '../../../gateway/src/runtime/temp-dirs.js';

describe('runtime temp folders', () => {
  test('a folder is named after this process and removed when asked', () => {
    const dir = makeTempDir();
    expect(dir).toMatch(new RegExp(`tftpfn-functions-${process.pid}-`));
    writeFileSync(join(dir, 'x'), 'x');
    removeTempDir(dir);
    expect(existsSync(dir)).toBe(false);
  });

  test('the sweep removes folders of dead processes of this PID namespace, and keeps live ones, other namespaces and unrelated names', () => {
    const base = mkdtempSync(join(tmpdir(), 'tftpfn-sweep-'));
    const ns = /\[(\d+)\]/.exec(readlinkSync('/proc/self/ns/pid'))![1];
    // 2^22 + 1 is above Linux's default pid_max of 2^22: no live process has it.
    const dead = join(base, `tftpfn-functions-${2 ** 22 + 1}-${ns}-abcdef`);
    const mine = join(base, `tftpfn-functions-${process.pid}-${ns}-abcdef`);
    const parent = join(base, `tftpfn-functions-${process.ppid}-${ns}-abcdef`);
    const elsewhere = join(base, `tftpfn-functions-${2 ** 22 + 1}-${Number(ns) + 1}-abcdef`);
    const other = join(base, 'tftpfn-fixture-xyz');
    for (const d of [dead, mine, parent, elsewhere, other]) mkdirSync(join(d, 'nested'), { recursive: true });
    expect(sweepStaleTempDirs(base)).toEqual([dead]);
    expect([dead, mine, parent, elsewhere, other].map(existsSync)).toEqual([false, true, true, true, true]);
  });
});
