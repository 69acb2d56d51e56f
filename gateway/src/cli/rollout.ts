/**
 * `tftpfn rollout`: canaries (issue 12). A canary serves new sessions from `percent`% of
 * clients, chosen by a stable hash of the client (the MAC in the path, else the IP), so one
 * machine keeps its version for the whole canary; everyone else gets the stable version.
 *
 *   tftpfn rollout NAME                       show the rollout
 *   tftpfn rollout NAME VERSION --percent N   start a canary (or change its share)
 *   tftpfn rollout NAME --promote             the canary becomes stable for everyone
 *   tftpfn rollout NAME --abort               the canary ends; stable for everyone
 */
import { Command } from 'commander';
import type { ControlPlane, Rollout } from '../control/control-plane.js';
import { addRolloutVerbOptions, ControlCliError, describeRollout, requireFunction, requireVersion, runControlVerb, settleRollout, type AckWait, type ControlFlags, type Io, type RolloutVerbFlags } from './control-cli.js';

interface RolloutFlags extends RolloutVerbFlags {
  percent?: string;
  promote?: boolean;
  abort?: boolean;
}

export function rolloutCommand(): Command {
  const cmd = new Command('rollout')
    .description('run a canary: a version for a share of clients beside the stable one; promote or abort it')
    .argument('<name>', 'the function')
    .argument('[version]', 'the canary version (with --percent)')
    .option('--percent <n>', 'share of clients (1-99) whose new sessions get VERSION')
    .option('--promote', 'the canary becomes the stable version for every client')
    .option('--abort', 'end the canary: every client gets the stable version');
  return addRolloutVerbOptions(cmd)
    .addHelpText(
      'after',
      '\nExamples:\n  tftpfn rollout grub 20261207T020001000Z-1a2b3c4d --percent 10 -c gateway.json\n  tftpfn rollout grub --promote -c gateway.json\n  tftpfn rollout grub --abort -c gateway.json\n  tftpfn rollout grub -c gateway.json          # show it',
    )
    .action((name: string, version: string | undefined, flags: RolloutFlags) => runControlVerb('rollout', flags, (cp, io) => rollout(cp, name, version, flags, io)));
}

/** Percent as typed: a whole number 1-99, else an error naming the fix. */
export function parsePercent(raw: string): number {
  const n = /^\d+$/.test(raw) ? Number(raw) : NaN;
  if (n === 0) throw new ControlCliError('--percent 0 sends nobody to the canary: to end one, use --abort', 2);
  if (n === 100) throw new ControlCliError('--percent 100 sends everyone to the canary: to make it stable, use --promote', 2);
  if (!(n >= 1 && n <= 99)) throw new ControlCliError(`--percent ${raw} is out of range: give a whole number from 1 to 99`, 2);
  return n;
}

export async function rollout(cp: ControlPlane, name: string, version: string | undefined, flags: Omit<RolloutFlags, keyof ControlFlags>, io: Io, wait: Partial<AckWait> = {}): Promise<number> {
  const forms = [flags.percent !== undefined, flags.promote === true, flags.abort === true].filter(Boolean).length;
  if (forms > 1) throw new ControlCliError('give one of VERSION --percent N, --promote, --abort', 2);
  if (version !== undefined && flags.percent === undefined) throw new ControlCliError(`a canary needs its share: tftpfn rollout ${name} ${version} --percent N`, 2);
  if (flags.percent !== undefined && version === undefined) throw new ControlCliError(`--percent needs the canary version: tftpfn rollout ${name} VERSION --percent ${flags.percent}`, 2);
  const percent = flags.percent !== undefined ? parsePercent(flags.percent) : undefined;
  await requireFunction(cp, name);
  const before = await cp.rollout(name);
  if (forms === 0) {
    io.out(before ? `${name}: ${describeRollout(before)} (revision ${before.revision})` : `${name}: no version serves`);
    return 0;
  }
  if (!before) throw new ControlCliError(`${name} has no stable version; make one serve first: tftpfn rollback ${name} --to VERSION`);
  let next: Rollout;
  if (percent !== undefined) {
    await requireVersion(cp, name, version!);
    if (version === before.stable) throw new ControlCliError(`${version} is already the stable version of ${name}; a canary is another version (tftpfn versions ${name})`, 2);
    next = await cp.setRollout(name, { stable: before.stable, canary: { version: version!, percent } });
    io.out(`${name}: canary ${version} for ${percent}% of clients, stable ${before.stable} for the rest (revision ${next.revision})`);
  } else {
    if (!before.canary) throw new ControlCliError(`${name} has no canary to ${flags.promote ? 'promote' : 'abort'}; start one with tftpfn rollout ${name} VERSION --percent N`);
    const stable = flags.promote ? before.canary.version : before.stable;
    next = await cp.setRollout(name, { stable });
    io.out(flags.promote ? `${name}: promoted ${stable} to stable for every client (revision ${next.revision})` : `${name}: canary ${before.canary.version} aborted; ${stable} serves every client (revision ${next.revision})`);
  }
  return settleRollout(cp, name, before, next, { timeoutMs: flags.timeoutMs, ...wait }, io);
}
