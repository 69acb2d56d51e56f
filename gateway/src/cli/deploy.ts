/**
 * `tftpfn deploy <entry> --name NAME`: publish a function version to the control plane the
 * gateways read (issue 12: the deploy folder, or Redis + the bucket), make it serve (all
 * clients, or a canary share with --percent), and wait for the live gateways to say so.
 *
 * Order, and why: bundle → load it in a worker, calling nothing (and with --smoke, run it once)
 * → publish → setRollout → wait for acks. Everything that can refuse a version happens before
 * publish, so a build that throws at import, exports no handler or fails its smoke path is never
 * recorded and never becomes current: the previous version goes on serving everywhere.
 *
 * Exit codes: 0 published and every live gateway serves it (or none is live), 1 refused (the
 * check, a gateway's rejection, a control-plane failure), 2 usage, 3 published but some live
 * gateway did not answer within --timeout-ms.
 *
 * The pre-issue-12 forms --list, --activate and --prune still work, each with a line naming
 * the verb that replaces it.
 */
import { hostname, userInfo } from 'node:os';
import { performance } from 'node:perf_hooks';
import { Command, Option } from 'commander';
import type { ControlPlane, FunctionSettings, Rollout } from '../control/control-plane.js';
import { FUNCTION_NAME } from '../config/schema.js';
import { readManifest } from '../control/manifest.js';
import { checkBundleLoads } from '../runtime/load-check.js';
import { integer } from './arg-parsers.js';
import { bundleOrReport, defaultFunctionName, formatBytes, resolveEntry } from './build.js';
import { addRolloutVerbOptions, checkName, ControlCliError, describeRollout, processIo, requireVersion, settleRollout, withControlPlane, type AckWait, type ControlFlags, type Io, type RolloutVerbFlags } from './control-cli.js';
import { uploadProgress } from './upload-progress.js';
import { parsePercent } from './rollout.js';

/** The load check's bound when the manifest sets no timeoutMs: a module that hangs at import is refused. */
const LOAD_CHECK_TIMEOUT_MS = 10_000;

interface DeployFlags extends RolloutVerbFlags {
  name?: string;
  message?: string;
  smoke?: string;
  percent?: string;
  author?: string;
  minify?: boolean;
  list?: boolean;
  activate?: string;
  prune?: number;
}

/** Runs a verb's body on the control plane the flags name (withControlPlane). */
type WithPlane = (verb: string, flags: ControlFlags, io: Io, body: (cp: ControlPlane) => Promise<number>) => Promise<number>;

/** What tests replace: the output, how the control plane is opened, and the ack wait's clock and sleep. */
export interface DeployDeps {
  readonly io?: Io;
  readonly withPlane?: WithPlane;
  readonly wait?: Partial<AckWait>;
}

export function deployCommand(deps: DeployDeps = {}): Command {
  const cmd = new Command('deploy')
    .description('publish a function version to the gateways (deploy folder, or Redis + bucket), make it serve, and wait for the live gateways')
    .argument('[entry]', "the function's source file, or a folder with an index.ts")
    .option('-n, --name <name>', 'function name (default: the file name, or the folder name for index.ts)')
    .option('-m, --message <text>', 'a note kept with the version (tftpfn versions shows it)')
    .option('--smoke <path>', 'also run the handler once for this path before publishing; an error refuses the deploy')
    .option('--percent <n>', 'serve it to this share of clients only, as a canary beside the current stable (1-99)')
    .addOption(new Option('--author <who>', 'recorded as who deployed (default USER@HOSTNAME)').env('TFTPFN_DEPLOY_AUTHOR'))
    .option('--minify', 'minify the bundle')
    .option('--list', 'deprecated: use tftpfn versions NAME')
    .option('--activate <version>', 'deprecated: use tftpfn rollback NAME --to VERSION')
    .option('--prune <keep>', 'deprecated: the newest 100 versions are kept, older ones pruned at publish', integer(0, 1_000_000));
  return addRolloutVerbOptions(cmd)
    .addHelpText(
      'after',
      [
        '',
        'Exit status: 0 every live gateway serves it, 1 refused or rejected (nothing changes on a',
        'refusal), 2 bad arguments, 3 published but a live gateway did not answer in time.',
        '',
        'Examples:',
        '  tftpfn deploy functions/grub -d /srv/tftpfn/deploy -m "grub: new menu"',
        '  tftpfn deploy functions/grub -c gateway.json --smoke grub.cfg-01-52-54-00-12-34-56',
        '  tftpfn deploy functions/grub -c gateway.json --percent 10   # a canary for 10% of machines',
        '  tftpfn versions grub -c gateway.json',
      ].join('\n'),
    )
    .action(async (entry: string | undefined, flags: DeployFlags) => {
      process.exitCode = await runDeploy(entry, flags, deps.io ?? processIo, deps);
    });
}

export async function runDeploy(entry: string | undefined, flags: DeployFlags, io: Io, deps: DeployDeps = {}): Promise<number> {
  const withPlane: WithPlane = deps.withPlane ?? withControlPlane;
  const forms = [entry !== undefined, flags.list === true, flags.activate !== undefined, flags.prune !== undefined].filter(Boolean).length;
  if (forms !== 1) return usage(io, 'give exactly one of: an entry file to publish, or the deprecated --list, --activate <version>, --prune <keep>');
  if (entry === undefined) return legacy(flags, io, withPlane);
  let name = flags.name;
  let percent: number | undefined;
  try {
    if (flags.percent !== undefined) percent = parsePercent(flags.percent);
    if (name === undefined) {
      name = defaultFunctionName(resolveEntry(entry));
      if (!FUNCTION_NAME_OK(name)) return usage(io, `"${name}" (from the file name) is not a valid function name; give one with --name`);
    }
    checkName(name);
  } catch (e) {
    return usage(io, (e as Error).message);
  }
  const fnName = name;
  return withPlane('deploy', flags, io, (cp) => deployVersion(cp, { ...flags, entry, name: fnName, percent, author: flags.author ?? defaultAuthor() }, io, deps.wait));
}

const FUNCTION_NAME_OK = (n: string) => FUNCTION_NAME.test(n);

/** A deploy folder this user cannot write: the folder and the fix, not a raw EACCES. */
function unwritable(e: unknown): ControlCliError | undefined {
  const err = e as NodeJS.ErrnoException;
  if (err?.code !== 'EACCES' && err?.code !== 'EPERM' && err?.code !== 'EROFS') return undefined;
  const where = err.path ? `${err.path}` : 'the deploy folder';
  const why = err.code === 'EROFS' ? 'is on a read-only file system' : 'cannot be written by this user';
  return new ControlCliError(
    `${where} ${why} (${err.code}${err.syscall ? ` on ${err.syscall}` : ''}): run deploy as the user that owns the deploy folder (the gateway's), give that user write access (e.g. chown -R USER FOLDER), or point --deploy-dir / deployDir at a folder you can write; nothing was published`,
  );
}


export function defaultAuthor(): string {
  let user = 'unknown';
  try {
    user = userInfo().username;
  } catch {
    /* no passwd entry (a container's random uid): keep "unknown" */
  }
  return `${user}@${hostname()}`;
}

export interface DeployInput {
  readonly entry: string;
  readonly name: string;
  readonly author: string;
  readonly message?: string;
  readonly smoke?: string;
  readonly percent?: number;
  readonly timeoutMs: number;
  readonly minify?: boolean;
  /** The load check's bound (default: the manifest's timeoutMs, at least 10 s). */
  readonly loadTimeoutMs?: number;
}

/** The deploy itself, against any control plane (tests give an in-memory one). */
export async function deployVersion(cp: ControlPlane, input: DeployInput, io: Io, wait: Partial<AckWait> = {}): Promise<number> {
  const { name } = input;
  const before = await cp.rollout(name);
  if (input.percent !== undefined && !before) {
    throw new ControlCliError(`${name} has no stable version yet, so there is nothing to run a canary beside; deploy it without --percent first`, 2);
  }
  let settings: FunctionSettings;
  try {
    settings = await readManifest(resolveEntry(input.entry));
  } catch (e) {
    throw new ControlCliError(`${(e as Error).message}; nothing was published`);
  }
  const bundle = await bundleOrReport('deploy', input.entry, input.minify);
  if (!bundle) return 1;
  const check = await checkBundleLoads(bundle.code, bundle.map, {
    ...(input.smoke !== undefined ? { smokePath: input.smoke } : {}),
    ...(settings.vars ? { vars: settings.vars } : {}),
    timeoutMs: input.loadTimeoutMs ?? Math.max(LOAD_CHECK_TIMEOUT_MS, settings.timeoutMs ?? 0),
  });
  if (!check.ok) {
    const what = check.stage === 'smoke' ? `failed its smoke run (--smoke ${input.smoke})` : 'cannot be loaded';
    io.err(`tftpfn deploy: ${bundle.entry} ${what}: ${check.message}`);
    if (check.smoke?.logs.length) io.err(['logs:', ...check.smoke.logs.map((l) => `  ${l}`)].join('\n'));
    io.err(`nothing was published; ${before ? `${name} still serves ${describeRollout(before)}` : `${name} has no version`}`);
    return 1;
  }
  io.out(`${name}: built ${formatBytes(bundle.bytes)} in ${bundle.buildMs.toFixed(0)} ms; loaded in a worker${input.smoke !== undefined ? `, smoke ${input.smoke}: ${check.smoke?.kind}, ${check.smoke?.size} bytes` : ''}: ok`);

  const current = before ? await cp.version(name, before.stable) : undefined;
  if (input.percent === undefined && !before?.canary && current?.sha256 === bundle.sha256 && JSON.stringify(current.settings) === JSON.stringify(settings)) {
    io.out(`${name}: unchanged, the current version ${current.id} has the same code (sha256 ${bundle.sha256.slice(0, 12)}…) and settings; nothing deployed`);
    return 0;
  }

  const code = Buffer.from(bundle.code);
  const started = performance.now();
  const record = await cp
    .publish(
      name,
      { code, map: Buffer.from(bundle.map), sha256: bundle.sha256, entry: bundle.entry, ...(input.message !== undefined ? { message: input.message } : {}), author: input.author, settings },
      uploadProgress(name, io, wait.now),
    )
    .catch((e: unknown) => {
      throw unwritable(e) ?? e;
    });
  if (io.isTTY && io.redraw) io.redraw('');
  io.out(`${name}: uploaded ${formatBytes(code.byteLength)} to the ${cp.kind === 'redis' ? 'bucket' : 'deploy folder'} in ${(performance.now() - started).toFixed(0)} ms`);
  io.out(`${name}: deployed version ${record.id}, ${formatBytes(record.bytes)}, by ${record.author}${record.message ? `: ${record.message}` : ''}`);

  let rollout: Rollout;
  if (input.percent !== undefined) {
    rollout = await cp.setRollout(name, { stable: before!.stable, canary: { version: record.id, percent: input.percent } });
  } else {
    if (before?.canary) io.out(`${name}: the canary ${before.canary.version} (${before.canary.percent}%) ends: every client gets the new version`);
    rollout = await cp.setRollout(name, { stable: record.id });
  }
  io.out(`${name}: now ${describeRollout(rollout)} (revision ${rollout.revision})`);
  return settleRollout(cp, name, before, rollout, { timeoutMs: input.timeoutMs, ...wait }, io);
}

/** The deploy-folder forms from before issue 12, mapped onto the new verbs. */
async function legacy(flags: DeployFlags, io: Io, withPlane: WithPlane): Promise<number> {
  if (!flags.list && flags.name === undefined) return usage(io, `--${flags.activate !== undefined ? 'activate' : 'prune'} needs --name <function>`);
  if (flags.name !== undefined && !FUNCTION_NAME_OK(flags.name)) {
    return usage(io, `invalid function name "${flags.name}": use letters, digits, - and _ (at most 63), starting with a letter or digit`);
  }
  const name = flags.name;
  if (flags.prune !== undefined) {
    io.err(`tftpfn deploy --prune is deprecated: the newest 100 versions of each function are kept and older ones are pruned at publish (never one that serves)`);
    io.out(`${name}: nothing to prune`);
    return 0;
  }
  return withPlane('deploy', flags, io, async (cp) => {
    if (flags.activate !== undefined) {
      io.err(`note: tftpfn deploy --activate is deprecated; use tftpfn rollback ${name} --to ${flags.activate}`);
      await requireVersion(cp, name!, flags.activate);
      const r = await cp.setRollout(name!, { stable: flags.activate });
      const v = (await cp.version(name!, r.stable))!;
      io.out(`${name}: current is now ${v.id}, ${formatBytes(v.bytes)}, deployed ${v.createdAt}`);
      return 0;
    }
    io.err(`note: tftpfn deploy --list is deprecated; use tftpfn versions${name ? ` ${name}` : ' NAME'}`);
    if (name === undefined) {
      const names = await cp.functions();
      if (!names.length) io.out(`no functions deployed in this ${cp.kind} control plane`);
      for (const n of names) {
        const r = await cp.rollout(n);
        const v = r ? await cp.version(n, r.stable) : undefined;
        io.out(v ? `${n}  ${v.id}  ${formatBytes(v.bytes)}  deployed ${v.createdAt}` : `${n}  (no version serves)`);
      }
      return 0;
    }
    const versions = (await cp.versions(name)).reverse();
    if (!versions.length) io.out(`no versions of "${name}"`);
    const r = await cp.rollout(name);
    for (const v of versions) io.out(`${v.id === r?.stable ? '*' : ' '} ${v.id}  ${formatBytes(v.bytes)}  deployed ${v.createdAt}${v.entry ? `  from ${v.entry}` : ''}`);
    return 0;
  });
}

function usage(io: Io, message: string): number {
  io.err(`tftpfn deploy: ${message} (see tftpfn deploy --help)`);
  return 2;
}
