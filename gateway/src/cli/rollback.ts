/**
 * `tftpfn rollback NAME [--to VERSION]`: make an earlier version serve every client, at once
 * (the bundle is already in every gateway's reach: only the rollout changes), then wait for
 * the live gateways as deploy does. Without --to: the previous stable version when the control
 * plane records it (Rollout.previousStable), else the version published just before the one
 * that serves now. A canary in progress ends.
 */
import { Command } from 'commander';
import type { ControlPlane } from '../control/control-plane.js';
import { addRolloutVerbOptions, ControlCliError, describeRollout, requireFunction, requireVersion, runControlVerb, settleRollout, type AckWait, type Io, type RolloutVerbFlags } from './control-cli.js';

interface RollbackFlags extends RolloutVerbFlags {
  to?: string;
}

export function rollbackCommand(): Command {
  const cmd = new Command('rollback')
    .description('make an earlier version serve every client at once (default: the one before the current stable)')
    .argument('<name>', 'the function')
    .option('--to <version>', 'the version to go back (or forward) to; see tftpfn versions NAME');
  return addRolloutVerbOptions(cmd)
    .addHelpText('after', '\nExit status as deploy: 0 every live gateway serves it, 1 refused or rejected, 2 usage, 3 a gateway did not answer in time.\n\nExamples:\n  tftpfn rollback grub -d ./deploy\n  tftpfn rollback grub --to 20261207T020001000Z-1a2b3c4d -c gateway.json')
    .action((name: string, flags: RollbackFlags) => runControlVerb('rollback', flags, (cp, io) => rollback(cp, name, flags, io)));
}

export async function rollback(cp: ControlPlane, name: string, flags: { to?: string; timeoutMs: number }, io: Io, wait: Partial<AckWait> = {}): Promise<number> {
  await requireFunction(cp, name);
  const before = await cp.rollout(name);
  let target = flags.to;
  if (target === undefined && before?.previousStable !== undefined && (await cp.version(name, before.previousStable))) {
    target = before.previousStable;
  } else if (target === undefined) {
    const versions = await cp.versions(name);
    const at = before ? versions.findIndex((v) => v.id === before.stable) : -1;
    const previous = at >= 0 ? versions[at + 1] : undefined;
    if (!previous) {
      throw new ControlCliError(`${name} has no version older than ${before ? `its stable ${before.stable}` : 'the ones listed'} to go back to; name one with --to VERSION (tftpfn versions ${name})`);
    }
    target = previous.id;
  } else {
    await requireVersion(cp, name, target);
  }
  if (before && before.stable === target && !before.canary) {
    io.out(`${name}: ${target} already serves every client; nothing to do`);
    return 0;
  }
  if (before?.canary) io.out(`${name}: the canary ${before.canary.version} (${before.canary.percent}%) ends`);
  const rollout = await cp.setRollout(name, { stable: target });
  io.out(`${name}: rolled back from ${before ? describeRollout(before) : 'nothing'} to ${target} (revision ${rollout.revision})`);
  return settleRollout(cp, name, before, rollout, { timeoutMs: flags.timeoutMs, ...wait }, io);
}
