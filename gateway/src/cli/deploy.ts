/**
 * `tftpfn deploy`: bundle a function and publish it as a new version in a deploy folder, which
 * gateways watch (see runtime/deploy-store.ts); or list, activate (roll back) and prune the
 * versions already there.
 */
import { Command, Option } from 'commander';
import { FUNCTION_NAME } from '../config/schema.js';
import { DeployStore, type DeployedVersion } from '../runtime/deploy-store.js';
import { integer } from './arg-parsers.js';
import { bundleOrReport, defaultFunctionName, formatBytes, resolveEntry } from './build.js';

interface DeployFlags {
  name?: string;
  deployDir: string;
  minify?: boolean;
  list?: boolean;
  activate?: string;
  prune?: number;
}

export function deployCommand(): Command {
  return new Command('deploy')
    .description('publish a function as a new version in a deploy folder (or list, activate or prune its versions)')
    .argument('[file]', "the function's source file, or a folder with an index.ts")
    .option('-n, --name <name>', 'function name (default: the file name, or the folder name for index.ts)')
    .addOption(new Option('-d, --deploy-dir <dir>', 'the deploy folder').env('TFTPFN_DEPLOY_DIR').default('./deploy'))
    .option('--minify', 'minify the bundle')
    .option('--list', 'list deployed functions, or with --name the versions of one (* marks current)')
    .option('--activate <version>', 'point --name at an existing version (rollback or roll forward)')
    .option('--prune <keep>', 'delete versions of --name except the current one and the newest <keep>', integer(0, 1_000_000))
    .addHelpText(
      'after',
      [
        '',
        'Examples:',
        '  tftpfn deploy functions/grub                    # publish as "grub" in ./deploy',
        '  tftpfn deploy hello.ts --name hello -d /srv/tftpfn/deploy',
        '  tftpfn deploy --list                            # every function and its current version',
        '  tftpfn deploy --list --name grub                # the versions of grub',
        '  tftpfn deploy --name grub --activate 20250101T120000000Z-1a2b3c4d',
        '  tftpfn deploy --name grub --prune 5',
      ].join('\n'),
    )
    .action(async (file: string | undefined, flags: DeployFlags) => {
      process.exitCode = await run(file, flags);
    });
}

async function run(file: string | undefined, flags: DeployFlags): Promise<number> {
  const forms = [file !== undefined, flags.list === true, flags.activate !== undefined, flags.prune !== undefined].filter(Boolean).length;
  if (forms !== 1) {
    return usage('give exactly one of: a file to publish, --list, --activate <version>, --prune <keep>');
  }
  const store = new DeployStore(flags.deployDir);
  try {
    if (flags.list) return await list(store, flags.name);
    if (file === undefined && flags.name === undefined) return usage(`--${flags.activate !== undefined ? 'activate' : 'prune'} needs --name <function>`);
    if (flags.name !== undefined && !FUNCTION_NAME.test(flags.name)) {
      return usage(`invalid function name "${flags.name}": use letters, digits, - and _ (at most 63), starting with a letter or digit`);
    }
    if (flags.activate !== undefined) {
      const v = await store.activate(flags.name!, flags.activate);
      console.log(`${v.name}: current is now ${v.version}, ${formatBytes(v.bytes)}, deployed ${v.deployedAt}`);
      return 0;
    }
    if (flags.prune !== undefined) {
      const deleted = await store.prune(flags.name!, flags.prune);
      console.log(deleted.length ? `${flags.name}: deleted ${deleted.length} version(s): ${deleted.join(' ')}` : `${flags.name}: nothing to prune`);
      return 0;
    }
    return await publish(store, file!, flags);
  } catch (e) {
    console.error(`tftpfn deploy: ${(e as Error).message}`);
    return 1;
  }
}

async function publish(store: DeployStore, file: string, flags: DeployFlags): Promise<number> {
  let name = flags.name;
  if (name === undefined) {
    try {
      name = defaultFunctionName(resolveEntry(file));
    } catch (e) {
      return usage((e as Error).message);
    }
    if (!FUNCTION_NAME.test(name)) return usage(`"${name}" (from the file name) is not a valid function name; give one with --name`);
  }
  const bundle = await bundleOrReport('deploy', file, flags.minify);
  if (!bundle) return 1;
  const { deployed, unchanged } = await store.publish(name, bundle);
  if (unchanged) {
    console.log(`${name}: unchanged, the current version ${deployed.version} has the same code (sha256 ${deployed.sha256.slice(0, 12)}…); nothing deployed`);
  } else {
    console.log(`${name}: deployed version ${deployed.version}, ${formatBytes(deployed.bytes)}, built in ${bundle.buildMs.toFixed(0)} ms`);
    console.log(`  ${deployed.bundlePath}`);
  }
  return 0;
}

async function list(store: DeployStore, name: string | undefined): Promise<number> {
  if (name === undefined) {
    const names = await store.functions();
    if (!names.length) console.log(`no functions deployed in ${store.dir}`);
    for (const n of names) {
      try {
        const v = (await store.current(n))!;
        console.log(`${n}  ${v.version}  ${formatBytes(v.bytes)}  deployed ${v.deployedAt}`);
      } catch (e) {
        console.log(`${n}  BROKEN: ${(e as Error).message}`);
      }
    }
    return 0;
  }
  const versions = await store.versions(name);
  if (!versions.length) {
    console.log(`no versions of "${name}" in ${store.dir}`);
    return 0;
  }
  let current: DeployedVersion | undefined;
  try {
    current = await store.current(name);
  } catch (e) {
    console.error(`warning: ${(e as Error).message}`);
  }
  for (const v of versions) {
    console.log(`${v.version === current?.version ? '*' : ' '} ${v.version}  ${formatBytes(v.bytes)}  deployed ${v.deployedAt}${v.entry ? `  from ${v.entry}` : ''}`);
  }
  return 0;
}

function usage(message: string): number {
  console.error(`tftpfn deploy: ${message} (see tftpfn deploy --help)`);
  return 2;
}
