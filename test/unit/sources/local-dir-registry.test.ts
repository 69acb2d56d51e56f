import { afterEach, describe, expect, it } from 'vitest';
import { rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { localDirSource } from '../../../gateway/src/sources/local-dir-registry.js';
import { folderHandler } from '../../../gateway/src/handlers/folder.js';
import { normalizePath } from '../../../gateway/src/protocol/path.js';
import type { TftpRequest } from '../../../gateway/src/handlers/request.js';
import type { ByteReader } from '../../../gateway/src/sources/types.js';
import { makeRoot } from '../../helpers/gateway.js';

const dirs: string[] = [];
function tempRoot(files: Record<string, string>): string {
  const dir = makeRoot(files);
  dirs.push(dir);
  return dir;
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function readAll(reader: ByteReader): Promise<string> {
  const parts: Uint8Array[] = [];
  for (let i = 0; i < 1000; i++) {
    const chunk = await reader.read(64 * 1024);
    if (chunk === null) break;
    parts.push(chunk);
  }
  await reader.close();
  return Buffer.concat(parts).toString();
}

const path = (p: string) => normalizePath(p);
const request = (p: string) => ({ path: path(p) }) as TftpRequest;

// The settings FunctionRuntime and folderHandler both take from the gateway config.
const cache = { readAheadBytes: 65536, cacheTtlMs: 60_000, cacheMaxFileBytes: 1024, cacheMaxTotalBytes: 10 };
const folderCache = { readAheadBytes: 65536, fileCacheTtlMs: 60_000, fileCacheMaxFileBytes: 1024, fileCacheMaxBytes: 10 };

describe('localDirSource registry', () => {
  it('local dir registry: one root, spelled three ways, is one source', () => {
    const root = tempRoot({ 'a.txt': 'x' });
    const link = join(tempRoot({}), 'link');
    symlinkSync(root, link);
    const a = localDirSource(root, cache);
    expect(localDirSource(`${root}/`, cache)).toBe(a);
    expect(localDirSource(link, cache)).toBe(a);
    expect(localDirSource(join(root, '.'), cache)).toBe(a);
  });

  it('local dir registry: different cache settings or roots keep apart', () => {
    const root = tempRoot({});
    const other = tempRoot({});
    expect(localDirSource(root, cache)).not.toBe(localDirSource(root, { ...cache, cacheTtlMs: 0 }));
    expect(localDirSource(root, cache)).not.toBe(localDirSource(other, cache));
  });

  it('local dir registry: a folder route and a function reading file() from one root share one cache', async () => {
    const root = tempRoot({ 'a.txt': 'first' });
    const folder = folderHandler({ root, ...folderCache });
    const files = localDirSource(root, cache); // what FunctionRuntime.files(root) returns
    expect(await readAll((await folder.openRead(request('a.txt'), {})).reader)).toBe('first');
    writeFileSync(join(root, 'a.txt'), 'SECOND');
    // Within the TTL the function is served the bytes the folder route cached: one cache.
    expect(await readAll(await files.openRead(path('a.txt')))).toBe('first');
  });

  it('local dir registry: the two users share one fileCacheMaxBytes budget', async () => {
    const root = tempRoot({ 'a.txt': 'aaaaaa', 'b.txt': 'bbbbbb' });
    const folder = folderHandler({ root, ...folderCache });
    const files = localDirSource(root, cache);
    expect(await readAll((await folder.openRead(request('a.txt'), {})).reader)).toBe('aaaaaa');
    // 6 + 6 bytes do not fit the 10-byte budget: caching b.txt for the function evicts a.txt.
    expect(await readAll(await files.openRead(path('b.txt')))).toBe('bbbbbb');
    writeFileSync(join(root, 'a.txt'), 'AAAAAA');
    writeFileSync(join(root, 'b.txt'), 'BBBBBB');
    expect(await readAll((await folder.openRead(request('a.txt'), {})).reader)).toBe('AAAAAA');
    // ... and a.txt, cached again, evicted b.txt in turn.
    expect(await readAll(await files.openRead(path('b.txt')))).toBe('BBBBBB');
  });
});
