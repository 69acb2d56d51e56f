/**
 * bundle.ts bundleInputs: the files `tftpfn dev` watches are the bundle's input graph, from
 * esbuild's metafile; when the source does not build, the entry and the files the errors name.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { bundleInputs } from '../../../gateway/src/runtime/bundle.js';

const dir = mkdtempSync(join(tmpdir(), 'tftpfn-inputs-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('bundle inputs', () => {
  test('bundle inputs: the entry, what it imports and the SDK, absolute; not a file beside them', async () => {
    writeFileSync(join(dir, 'index.ts'), "import { text } from 'tftpfn/sdk';\nimport { name } from './lib/name.js';\nexport const handle = () => text(name);\n");
    writeFileSync(join(dir, 'lib.log'), 'not imported\n');
    const { mkdirSync } = await import('node:fs');
    mkdirSync(join(dir, 'lib'), { recursive: true });
    writeFileSync(join(dir, 'lib/name.ts'), "export const name = 'x';\n");
    const files = await bundleInputs(join(dir, 'index.ts'));
    expect(files).toContain(join(dir, 'index.ts'));
    expect(files).toContain(join(dir, 'lib/name.ts'));
    expect(files.some((f) => /sdk[\\/]index\.(ts|js)$/.test(f))).toBe(true);
    expect(files).not.toContain(join(dir, 'lib.log'));
    expect(files.every((f) => f.startsWith('/'))).toBe(true);
  });

  test('bundle inputs: a source that does not build gives the entry and the file the error is in', async () => {
    writeFileSync(join(dir, 'broken.ts'), "import { name } from './bad.js';\nexport const handle = () => name;\n");
    writeFileSync(join(dir, 'bad.ts'), 'export const name = (;\n');
    expect((await bundleInputs(join(dir, 'broken.ts'))).sort()).toEqual([join(dir, 'bad.ts'), join(dir, 'broken.ts')]);
  });
});
