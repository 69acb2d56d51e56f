/**
 * The package as its users import it: `tftpfn`, `tftpfn/sdk` and `tftpfn/client` through
 * package.json "exports" (Node resolves a package's own name from inside it), from the build.
 */
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, test } from 'vitest';

const repo = join(dirname(fileURLToPath(import.meta.url)), '../..');

test('an embedder imports createGateway, the SDK and the client by package name, and they work together', () => {
  const program = `
    import { createGateway } from 'tftpfn';
    import { text } from 'tftpfn/sdk';
    import { get } from 'tftpfn/client';
    const gw = await createGateway({ hosts: ['127.0.0.1'], port: 0, logLevel: 'silent', handle: (r) => text('embedded ' + r.path) });
    const { data } = await get({ host: '127.0.0.1', port: gw.port, path: 'a/b' });
    console.log(data.toString());
    await gw.close(0);
  `;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', program], { cwd: repo, encoding: 'utf8', timeout: 30_000 });
  expect(r.stderr).toBe('');
  expect(r.stdout).toBe('embedded a/b\n');
});
