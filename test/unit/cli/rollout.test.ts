/**
 * `tftpfn rollout`, `rollback` and `versions` against an in-memory control plane: what changes
 * in the rollout (stable, canary, revision), what is printed, and that every refusal names the
 * fix and changes nothing.
 */
import { describe, expect, it } from 'vitest';
import { rollback } from '../../../gateway/src/cli/rollback.js';
import { parsePercent, rollout } from '../../../gateway/src/cli/rollout.js';
import { listVersions } from '../../../gateway/src/cli/versions.js';
import { captureIo } from './capture-io.js';
import { FakeControlPlane } from '../control/fake-control-plane.js';

const noSleep = { sleep: async () => undefined };

/** Three published versions of grub (oldest first), the newest stable. */
async function planeWithVersions(): Promise<{ cp: FakeControlPlane; ids: string[] }> {
  const cp = new FakeControlPlane();
  const ids: string[] = [];
  for (const [i, text] of ['one', 'two', 'three'].entries()) {
    const code = Buffer.from(`export const handle = () => ${JSON.stringify(text)};`);
    const { createHash } = await import('node:crypto');
    const v = await cp.publish('grub', { code, sha256: createHash('sha256').update(code).digest('hex'), author: `dev${i}@lab`, message: `version ${text}`, settings: {} });
    ids.push(v.id);
  }
  await cp.setRollout('grub', { stable: ids[2] });
  return { cp, ids };
}

describe('rollout', () => {
  it('rollout: --percent starts a canary, --promote makes it stable for everyone', async () => {
    const { cp, ids } = await planeWithVersions();
    cp.addGateway('gw-1');
    const io = captureIo();
    expect(await rollout(cp, 'grub', ids[1], { percent: '30', timeoutMs: 1000 }, io, noSleep)).toBe(0);
    expect(await cp.rollout('grub')).toMatchObject({ stable: ids[2], canary: { version: ids[1], percent: 30 }, revision: 2 });
    expect(io.stdout[0]).toBe(`grub: canary ${ids[1]} for 30% of clients, stable ${ids[2]} for the rest (revision 2)`);
    expect(io.stdout.join('\n')).toMatch(new RegExp(`^gw-1\\s+${ids[2]}, ${ids[1]}\\s+ok$`, 'm'));
    const p = captureIo();
    expect(await rollout(cp, 'grub', undefined, { promote: true, timeoutMs: 1000 }, p, noSleep)).toBe(0);
    const after = (await cp.rollout('grub'))!;
    expect(after).toMatchObject({ stable: ids[1], revision: 3 });
    expect(after.canary).toBeUndefined();
    expect(p.stdout[0]).toBe(`grub: promoted ${ids[1]} to stable for every client (revision 3)`);
  });

  it('rollout: --abort ends the canary and keeps the stable', async () => {
    const { cp, ids } = await planeWithVersions();
    await rollout(cp, 'grub', ids[0], { percent: '10', timeoutMs: 0 }, captureIo(), noSleep);
    const io = captureIo();
    expect(await rollout(cp, 'grub', undefined, { abort: true, timeoutMs: 0 }, io, noSleep)).toBe(0);
    const r = (await cp.rollout('grub'))!;
    expect(r.stable).toBe(ids[2]);
    expect(r.canary).toBeUndefined();
    expect(io.stdout[0]).toBe(`grub: canary ${ids[0]} aborted; ${ids[2]} serves every client (revision 3)`);
  });

  it('rollout: with no flags it shows the rollout', async () => {
    const { cp, ids } = await planeWithVersions();
    const io = captureIo();
    expect(await rollout(cp, 'grub', undefined, { timeoutMs: 0 }, io)).toBe(0);
    expect(io.stdout).toEqual([`grub: stable ${ids[2]} (revision 1)`]);
  });

  it('rollout: refusals name the fix and change nothing', async () => {
    const { cp, ids } = await planeWithVersions();
    const refuse = (version: string | undefined, flags: Record<string, unknown>) => rollout(cp, 'grub', version, { timeoutMs: 0, ...flags }, captureIo());
    await expect(refuse(ids[1], { percent: '0' })).rejects.toThrow('--percent 0 sends nobody to the canary: to end one, use --abort');
    await expect(refuse(ids[1], { percent: '100' })).rejects.toThrow('to make it stable, use --promote');
    await expect(refuse(ids[1], { percent: '250' })).rejects.toThrow('--percent 250 is out of range: give a whole number from 1 to 99');
    await expect(refuse(ids[1], { percent: 'x' })).rejects.toThrow('out of range');
    await expect(refuse(undefined, { promote: true })).rejects.toThrow('grub has no canary to promote; start one with tftpfn rollout grub VERSION --percent N');
    await expect(refuse(undefined, { abort: true })).rejects.toThrow('no canary to abort');
    await expect(refuse('20200101T000000000Z-deadbeef', { percent: '5' })).rejects.toThrow('"grub" has no version 20200101T000000000Z-deadbeef; list them with tftpfn versions grub');
    await expect(refuse(ids[2], { percent: '5' })).rejects.toThrow('is already the stable version of grub');
    await expect(refuse(ids[1], {})).rejects.toThrow('a canary needs its share: tftpfn rollout grub');
    await expect(rollout(cp, 'nope', ids[1], { percent: '5', timeoutMs: 0 }, captureIo())).rejects.toThrow('unknown function "nope" (the functions here are grub); deploy it first: tftpfn deploy <entry> --name nope');
    expect(cp.setRollouts).toBe(1);
    expect(parsePercent('1')).toBe(1);
    expect(parsePercent('99')).toBe(99);
  });
});

describe('rollback', () => {
  it('rollback: without --to goes to the version before the stable, and ends a canary', async () => {
    const { cp, ids } = await planeWithVersions();
    await rollout(cp, 'grub', ids[0], { percent: '20', timeoutMs: 0 }, captureIo());
    cp.addGateway('gw-1');
    const io = captureIo();
    expect(await rollback(cp, 'grub', { timeoutMs: 1000 }, io, noSleep)).toBe(0);
    const r = (await cp.rollout('grub'))!;
    expect(r).toMatchObject({ stable: ids[1], revision: 3 });
    expect(r.canary).toBeUndefined();
    expect(io.stdout[0]).toBe(`grub: the canary ${ids[0]} (20%) ends`);
    expect(io.stdout[1]).toBe(`grub: rolled back from stable ${ids[2]}, canary ${ids[0]} for 20% of clients to ${ids[1]} (revision 3)`);
    expect(io.stdout.join('\n')).toMatch(new RegExp(`^gw-1\\s+${ids[1]}\\s+ok$`, 'm'));
  });

  it('rollback: with previousStable recorded, goes back to the version that served before, skipping one that never did', async () => {
    const { cp, ids } = await planeWithVersions();
    cp.recordsPreviousStable = true;
    // ids[2] serves; ids[1] was published but never served (a refused deploy); then ids[0] becomes stable after ids[2].
    await cp.setRollout('grub', { stable: ids[0] });
    const io = captureIo();
    expect(await rollback(cp, 'grub', { timeoutMs: 0 }, io, noSleep)).toBe(0);
    expect((await cp.rollout('grub'))!.stable).toBe(ids[2]);
    expect(io.stdout[0]).toBe(`grub: rolled back from stable ${ids[0]} to ${ids[2]} (revision 3)`);
  });

  it('rollback: --to names any version; unknown versions and the oldest are refused with the fix', async () => {
    const { cp, ids } = await planeWithVersions();
    expect(await rollback(cp, 'grub', { to: ids[0], timeoutMs: 0 }, captureIo())).toBe(0);
    expect((await cp.rollout('grub'))!.stable).toBe(ids[0]);
    await expect(rollback(cp, 'grub', { timeoutMs: 0 }, captureIo())).rejects.toThrow(`grub has no version older than its stable ${ids[0]} to go back to; name one with --to VERSION`);
    await expect(rollback(cp, 'grub', { to: 'v9', timeoutMs: 0 }, captureIo())).rejects.toThrow('"grub" has no version v9');
    const same = captureIo();
    expect(await rollback(cp, 'grub', { to: ids[0], timeoutMs: 0 }, same)).toBe(0);
    expect(same.stdout).toEqual([`grub: ${ids[0]} already serves every client; nothing to do`]);
    expect(cp.setRollouts).toBe(2);
  });
});

describe('versions', () => {
  it('versions: a table newest first with who, size, sha and message, stable and canary marked, and each gateway', async () => {
    const { cp, ids } = await planeWithVersions();
    cp.addGateway('gw-1');
    await rollout(cp, 'grub', ids[0], { percent: '25', timeoutMs: 0 }, captureIo(), noSleep);
    const io = captureIo();
    expect(await listVersions(cp, 'grub', io)).toBe(0);
    const [head, ...rows] = io.stdout;
    expect(head).toMatch(/^SERVES\s+VERSION\s+WHEN\s+WHO\s+SIZE\s+SHA256\s+MESSAGE$/);
    expect(rows[0]).toMatch(new RegExp(`^stable\\s+${ids[2]}\\s+2026-12-07 02:00:03Z\\s+dev2@lab\\s+\\d+ B\\s+[0-9a-f]{8}\\s+version three$`));
    expect(rows[1]).toMatch(new RegExp(`^\\s+${ids[1]}\\s+.*version two$`));
    expect(rows[2]).toMatch(new RegExp(`^canary 25%\\s+${ids[0]}\\s+.*version one$`));
    expect(io.stdout).toContain(`grub: stable ${ids[2]}, canary ${ids[0]} for 25% of clients (revision 2, since 2026-12-07 02:00:05Z)`);
    expect(io.stdout.join('\n')).toMatch(new RegExp(`^gw-1\\s+2\\s+${ids[2]}, ${ids[0]}\\s+ok$`, 'm'));
  });

  it('versions: an unknown function is refused naming the known ones', async () => {
    const { cp } = await planeWithVersions();
    await expect(listVersions(cp, 'grbu', captureIo())).rejects.toThrow('unknown function "grbu" (the functions here are grub)');
    await expect(listVersions(new FakeControlPlane(), 'x', captureIo())).rejects.toThrow('no function is deployed here yet');
  });
});
