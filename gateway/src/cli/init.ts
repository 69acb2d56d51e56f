/**
 * `tftpfn init [DIR]`: writes a function project (init-templates.ts) — the entry src/index.ts
 * written against tftpfn/sdk, a test through the SDK's `invoke` harness, the per-function
 * manifest src/tftpfn.json (control/manifest.ts: beside the entry), a package.json that
 * depends on this version of tftpfn, a README — that passes its own test and serves with
 * `tftpfn dev`, like `wrangler init`. It never overwrites a file: a folder that already holds
 * one of them is refused, naming the files.
 */
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { Command } from 'commander';
import { parseManifest } from '../control/manifest.js';
import { packageRoot } from '../runtime/package-root.js';
import { projectFiles } from './init-templates.js';

interface InitFlags {
  name?: string;
  tftpfn?: string;
}

/** A folder name as an npm package and function name: lower case letters, digits, - and _. */
export function projectName(dir: string): string {
  const name = basename(resolve(dir))
    .toLowerCase()
    .replace(/[^a-z0-9_-]+/g, '-')
    .replace(/^[-_]+|[-_]+$/g, '')
    .slice(0, 63);
  return name || 'tftpfn-function';
}

/** tftpfn's own version and the vitest it is tested with (the scaffold tests with the same). */
function packageFacts(): { version: string; vitest: string; nodeTypes: string } {
  const pkg = JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version: string; devDependencies?: Record<string, string> };
  return { version: pkg.version, vitest: pkg.devDependencies?.vitest ?? '^4.1.12', nodeTypes: pkg.devDependencies?.['@types/node'] ?? '^22.0.0' };
}

/** Writes the project into `dir`; returns the files written (relative). Refuses to overwrite. */
export async function initProject(dir: string, flags: InitFlags = {}): Promise<string[]> {
  const facts = packageFacts();
  const name = flags.name ?? projectName(dir);
  if (!/^[a-z0-9][a-z0-9_-]{0,62}$/.test(name)) throw new InitError(`--name ${name}: use lower case letters, digits, - and _ (at most 63, starting with a letter or digit)`);
  const files = projectFiles({ name, tftpfnSpec: flags.tftpfn ?? `^${facts.version}`, vitestSpec: facts.vitest, nodeTypesSpec: facts.nodeTypes });
  // The manifest written is one `deploy` accepts: checked by the same parser.
  parseManifest(JSON.parse(files['src/tftpfn.json']), 'src/tftpfn.json');
  const taken = Object.keys(files).filter((f) => existsSync(join(dir, f)));
  if (taken.length > 0) {
    throw new InitError(`${dir} already has ${taken.join(', ')}; tftpfn init never overwrites files: give an empty or new folder, e.g. tftpfn init my-function`);
  }
  for (const [file, text] of Object.entries(files)) {
    await mkdir(dirname(join(dir, file)), { recursive: true });
    await writeFile(join(dir, file), text, { flag: 'wx' });
  }
  return Object.keys(files);
}

export class InitError extends Error {
  override name = 'InitError';
}

export function initCommand(): Command {
  return new Command('init')
    .description('write a function project: src/index.ts, a test, src/tftpfn.json, package.json, README')
    .argument('[dir]', 'the folder to create or fill (default: the current folder)', '.')
    .option('--name <name>', 'package and function name (default: from the folder name)')
    .option('--tftpfn <spec>', 'how package.json depends on tftpfn (default: ^ this version), e.g. file:../tftpfn-0.1.0.tgz')
    .addHelpText('after', '\nExample:\n  tftpfn init my-function && cd my-function && npm install && npm test && npm run dev')
    .action(async (dir: string, flags: InitFlags) => {
      let written: string[];
      try {
        written = await initProject(dir, flags);
      } catch (e) {
        console.error(`tftpfn init: ${(e as Error).message}`);
        process.exit(e instanceof InitError ? 2 : 1);
      }
      const where = isAbsolute(dir) ? dir : relative(process.cwd(), resolve(dir)) || '.';
      console.log(`tftpfn init: wrote ${written.length} files in ${where}: ${written.join(', ')}`);
      console.log(`next:\n${where === '.' ? '' : `  cd ${where}\n`}  npm install\n  npm test\n  npm run dev    # then: curl -s tftp://127.0.0.1:6969/hello.txt`);
    });
}
