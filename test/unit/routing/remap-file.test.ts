import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readRemapFile } from '../../../gateway/src/routing/remap-file.js';

describe('readRemapFile', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tftpfn-remap-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('remap file: loads the rules', async () => {
    const file = join(dir, 'ok.remap');
    await writeFile(file, '# comment\nr ^/tftpboot/\n');
    const rules = readRemapFile(file);
    expect(rules).toHaveLength(1);
    expect(rules[0].line).toBe(2);
  });

  it('remap file: a bad line names the file and the line', async () => {
    const file = join(dir, 'bad.remap');
    await writeFile(file, 'r ok\nz x\n');
    expect(() => readRemapFile(file)).toThrow(`${file}: remap line 2: unknown flag "z"`);
  });

  it('remap file: a missing file says so, naming the field and the file', async () => {
    const file = join(dir, 'nope.remap');
    expect(() => readRemapFile(file)).toThrow(`field "remapFile": cannot read ${file} (ENOENT): check the path`);
  });
});
