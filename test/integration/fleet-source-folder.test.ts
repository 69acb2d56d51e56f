/**
 * The fleet source on the real FolderControlPlane (control/folder-control.ts; issue 12), the
 * embedded default: a gateway on loopback follows a deploy folder written first the old way
 * (runtime/deploy-store.ts: version folders and a `current` pointer, read as revision 0), then
 * through the control plane (versions with settings, sealed secrets, rollouts, a canary), and
 * acknowledges each rollout in the folder.
 */
import { createHash } from 'node:crypto';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import { describe, expect, test } from 'vitest';
import { get } from '../../client/index.js';
import { FolderControlPlane } from '../../gateway/src/control/folder-control.js';
import { startGateway, type RunningGateway } from '../../gateway/src/index.js';
import { bundleFunction, type BuiltBundle } from '../../gateway/src/runtime/bundle.js';
import { DeployStore } from '../../gateway/src/runtime/deploy-store.js';
import { picksCanary } from '../../gateway/src/runtime/canary-pick.js';
import { FIXTURES } from '../helpers/functions.js';
import { eventually, scratch } from '../helpers/scratch.js';

const SOURCE = `import { text, type Handler } from 'tftpfn/sdk';
export const handle: Handler = (request, env) => text(\`__VERSION__ \${env.vars.SITE ?? '-'} \${env.secrets.TOKEN ?? '-'}\\n\`);
`;
const KEY_HEX = 'cd'.repeat(32);

async function bundle(version: string): Promise<BuiltBundle> {
  const src = join(FIXTURES, `.fleet-folder-${version}-${process.pid}.ts`);
  writeFileSync(src, SOURCE.replace('__VERSION__', version));
  try {
    return await bundleFunction(src);
  } finally {
    rmSync(src, { force: true });
  }
}

const { temp, defer } = scratch();

describe('fleet source on the folder control plane', () => {
  test('a deploy folder written the old way serves, then versions, secrets, a canary and a rejected version go through the control plane', { timeout: 120_000 }, async () => {
    const deployDir = temp('fleet-deploy-');
    // The old way: a version folder and the `current` pointer.
    const legacy = await new DeployStore(deployDir).publish('hello', await bundle('one'));
    const cp = new FolderControlPlane(deployDir, { secretsKey: Buffer.from(KEY_HEX, 'hex'), pollMs: 50 });
    defer(() => cp.close());
    const g: RunningGateway = await startGateway({
      config: {
        hosts: ['127.0.0.1'],
        port: 0,
        root: temp('fleet-root-'),
        gatewayId: 'gw-folder',
        deployDir,
        controlCacheDir: temp('fleet-cache-'),
        secretsKey: KEY_HEX,
        routes: [{ match: 'hello/**', function: 'hello' }],
        functions: { hello: { poolSize: 1, isolation: 'thread' } },
      },
      controlPlane: cp,
      logger: pino({ level: process.env.TFTPFN_TEST_LOG ?? 'silent' }),
    });
    defer(() => g.close(0));
    const fetchText = async (path: string) => (await get({ host: '127.0.0.1', port: g.port, path, timeoutMs: 300, retries: 5 })).data!.toString('utf8').trim();

    expect(await fetchText('hello/x')).toBe('one - -');
    expect(g.functions!.status()[0]).toMatchObject({ name: 'hello', source: 'deploy', version: legacy.deployed.version });
    expect(g.ready()).toEqual({ ready: true, reasons: [] });
    expect(await eventually(async () => (await cp.acks('hello')).some((a) => a.gateway === 'gw-folder' && a.revision === 0 && a.ok))).toBe(true);

    // Through the control plane: settings and secrets travel with the version.
    const b2 = await bundle('two');
    const two = await cp.publish('hello', { code: Buffer.from(b2.code), sha256: b2.sha256, author: 'test', settings: { vars: { SITE: 'lab' } } });
    await cp.putSecret('hello', 'TOKEN', 'tok2');
    const t0 = Date.now();
    await cp.setRollout('hello', { stable: two.id });
    expect(await eventually(async () => (await fetchText('hello/x')) === 'two lab tok2', 10_000)).toBe(true);
    console.log(`fleet-source-folder: served ${Date.now() - t0} ms after setRollout`);
    expect(await eventually(async () => (await cp.acks('hello')).some((a) => a.revision === 1 && a.ok && a.serving[0] === two.id))).toBe(true);

    // A canary against the legacy version: each MAC lands where the pick says.
    await cp.setRollout('hello', { stable: two.id, canary: { version: legacy.deployed.version, percent: 50 } });
    expect(await eventually(async () => (await cp.acks('hello')).some((a) => a.revision === 2 && a.ok && a.serving.length === 2), 10_000)).toBe(true);
    for (let i = 0; i < 40; i++) {
      const mac = `52:54:00:00:01:${i.toString(16).padStart(2, '0')}`;
      const want = picksCanary(`mac:${mac}`, 'hello', 50) ? 'one' : 'two';
      expect((await fetchText(`hello/${mac}/boot.ipxe`)).split(' ')[0]).toBe(want);
    }

    // A version that throws at import: acknowledged ok:false with the reason; two keeps serving.
    const broken = Buffer.from(readFileSync(join(FIXTURES, 'throws-at-import.ts'), 'utf8').replace(/^\/\/.*\n/, ''));
    const bad = await cp.publish('hello', { code: broken, sha256: createHash('sha256').update(broken).digest('hex'), author: 'test', settings: {} });
    await cp.setRollout('hello', { stable: bad.id });
    expect(await eventually(async () => (await cp.acks('hello')).some((a) => a.revision === 3), 10_000)).toBe(true);
    const ack = (await cp.acks('hello')).find((a) => a.revision === 3)!;
    expect(ack.ok).toBe(false);
    expect(ack.error).toMatch(/cannot start: missing configuration/);
    expect(ack.serving).toEqual([two.id, legacy.deployed.version]);
    expect((await fetchText('hello/x')).split(' ')[0]).toBe('two');
  });
});
