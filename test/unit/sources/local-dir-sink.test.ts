/** The folder upload sink (sources/local-dir-sink.ts); its races are test/integration/races-folder.test.ts. */
import { describe, expect, it } from 'vitest';
import { writeFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { LocalDirSink } from '../../../gateway/src/sources/local-dir-sink.js';
import { normalizePath } from '../../../gateway/src/protocol/path.js';
import { scratch } from '../../helpers/scratch.js';

const { temp } = scratch();
const tempDir = (): string => temp('tftpfn-src-');

describe('upload sink', () => {
  it('upload sink: commit renames the temp file into place; abort leaves nothing', async () => {
    const root = tempDir();
    const sink = new LocalDirSink(root, false);
    const w = await sink.openWrite(normalizePath('up.bin'));
    await w.write(Buffer.from('hello '));
    await w.write(Buffer.from('world'));
    expect(readdirSync(root)).toHaveLength(1); // only the hidden temp file
    await w.commit();
    expect(readdirSync(root)).toEqual(['up.bin']);
    const w2 = await sink.openWrite(normalizePath('other.bin'));
    await w2.write(Buffer.from('partial'));
    await w2.abort();
    expect(readdirSync(root)).toEqual(['up.bin']);
  });

  it('upload sink: an existing file is ERROR 6 unless overwrite is allowed', async () => {
    const root = tempDir();
    writeFileSync(join(root, 'f'), 'x');
    await expect(new LocalDirSink(root, false).openWrite(normalizePath('f'))).rejects.toMatchObject({ tftpCode: 6 });
    const w = await new LocalDirSink(root, true).openWrite(normalizePath('f'));
    await w.abort();
  });
});
