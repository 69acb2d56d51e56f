/**
 * `tftpfn versions NAME`: the published versions of a function, newest first (the latest 100
 * are kept), with which one serves as stable and which as a canary, and what each gateway last
 * said it serves.
 */
import { Command } from 'commander';
import type { ControlPlane } from '../control/control-plane.js';
import { addControlOptions, describeRollout, processIo, requireFunction, table, withControlPlane, type ControlFlags, type Io } from './control-cli.js';

export function versionsCommand(): Command {
  const cmd = new Command('versions')
    .description('list the versions of a function (newest first), which one serves, and what each gateway runs')
    .argument('<name>', 'the function');
  return addControlOptions(cmd)
    .addHelpText('after', '\nExamples:\n  tftpfn versions grub -d ./deploy\n  tftpfn versions grub -c gateway.json')
    .action(async (name: string, flags: ControlFlags) => {
      process.exitCode = await withControlPlane('versions', flags, processIo, (cp) => listVersions(cp, name, processIo));
    });
}

/** "2026-12-07T02:00:01.000Z" → "2026-12-07 02:00:01Z". */
const when = (iso: string) => iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z');

export function sizeText(bytes: number): string {
  return bytes < 1024 ? `${bytes} B` : bytes < 1024 * 1024 ? `${(bytes / 1024).toFixed(1)} KiB` : `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

export async function listVersions(cp: ControlPlane, name: string, io: Io): Promise<number> {
  await requireFunction(cp, name);
  const [versions, rollout, acks, live] = await Promise.all([cp.versions(name), cp.rollout(name), cp.acks(name), cp.liveGateways()]);
  const marker = (id: string) => (id === rollout?.stable ? 'stable' : id === rollout?.canary?.version ? `canary ${rollout.canary.percent}%` : '');
  const rows = versions.map((v) => [marker(v.id), v.id, when(v.createdAt), v.author, sizeText(v.bytes), v.sha256.slice(0, 8), v.message ?? '']);
  for (const line of table(['SERVES', 'VERSION', 'WHEN', 'WHO', 'SIZE', 'SHA256', 'MESSAGE'], rows)) io.out(line);
  io.out('');
  io.out(rollout ? `${name}: ${describeRollout(rollout)} (revision ${rollout.revision}, since ${when(rollout.updatedAt)})` : `${name}: no version serves (roll one out: tftpfn rollback ${name} --to VERSION)`);
  const liveIds = new Set(live.map((p) => p.gateway));
  const rowsAcks = acks
    .filter((a) => liveIds.has(a.gateway))
    .sort((a, b) => a.gateway.localeCompare(b.gateway))
    .map((a) => [a.gateway, String(a.revision), a.serving.join(', ') || '-', a.ok ? 'ok' : `rejected: ${(a.error ?? '').split('\n')[0]}`]);
  if (live.length === 0) io.out('no gateway is live');
  else if (rowsAcks.length === 0) io.out(`${live.length} gateway(s) live; none has acknowledged a revision of ${name} yet`);
  else for (const line of table(['GATEWAY', 'REVISION', 'SERVING', 'STATUS'], rowsAcks)) io.out(line);
  return 0;
}
