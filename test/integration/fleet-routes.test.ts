/**
 * Routes that travel with a version (issue 12: the manifest's "routes"): a gateway whose config
 * names no route for the function serves it at the globs its stable version declares, in
 * order after the config's own routes and before the default; a version that drops them takes
 * them away; a canary's routes do not count. Real FolderControlPlane, real gateway, real client.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import { expect, test } from 'vitest';
import { get } from '../../client/index.js';
import { TftpError } from '../../gateway/src/protocol/error-codes.js';
import { FolderControlPlane } from '../../gateway/src/control/folder-control.js';
import { startGateway, type SessionRecord } from '../../gateway/src/index.js';
import { bundleFunction } from '../../gateway/src/runtime/bundle.js';
import { FIXTURES } from '../helpers/functions.js';
import { eventually as eventuallyWithin, scratch } from '../helpers/scratch.js';

const { temp, defer } = scratch();

async function publish(cp: FolderControlPlane, marker: string, routes?: { match: string; stripPrefix?: boolean }[]) {
  const src = join(FIXTURES, `.fleet-routes-${marker}-${process.pid}.ts`);
  writeFileSync(src, `import { text, type Handler } from 'tftpfn/sdk';\nexport const handle: Handler = (request) => text(\`${marker} \${request.path}\\n\`);\n`);
  try {
    const b = await bundleFunction(src);
    return await cp.publish('menu', { code: Buffer.from(b.code), sha256: b.sha256, author: 'test', settings: routes ? { routes } : {} });
  } finally {
    rmSync(src, { force: true });
  }
}

const eventually = (check: () => Promise<boolean>) => eventuallyWithin(check, 10_000);

test('a version brings its routes; the config route wins its path; a version without them takes them away; a canary does not add its own', { timeout: 120_000 }, async () => {
  const deployDir = temp('fleet-routes-deploy-');
  const root = temp('fleet-routes-root-');
  writeFileSync(join(root, 'plain.txt'), 'from the root folder\n');
  const fixed = temp('fleet-routes-fixed-');
  mkdirSync(join(fixed, 'menu'));
  writeFileSync(join(fixed, 'menu', 'fixed.cfg'), 'from the config route\n');
  const cp = new FolderControlPlane(deployDir, { pollMs: 50 });
  defer(() => cp.close());
  const v1 = await publish(cp, 'one', [{ match: 'menu/**', stripPrefix: true }]);
  await cp.setRollout('menu', { stable: v1.id });

  const records: SessionRecord[] = [];
  const g = await startGateway({
    config: {
      hosts: ['127.0.0.1'],
      port: 0,
      root,
      deployDir,
      controlCacheDir: temp('fleet-routes-cache-'),
      // The operator's own route for one path under menu/: it comes first.
      routes: [{ match: 'menu/fixed.cfg', folder: fixed }],
      defaultRoute: { folder: root },
      functions: { menu: { poolSize: 1, isolation: 'thread' } },
    },
    controlPlane: cp,
    logger: pino({ level: process.env.TFTPFN_TEST_LOG ?? 'silent' }),
    onSession: (r) => records.push(r),
  });
  defer(() => g.close(0));
  const fetchText = async (path: string) => (await get({ host: '127.0.0.1', port: g.port, path, timeoutMs: 300, retries: 5 })).data!.toString('utf8').trim();
  const fetchError = async (path: string) => get({ host: '127.0.0.1', port: g.port, path, timeoutMs: 300, retries: 5 }).then(() => undefined, (e: unknown) => e);

  // The version's route, with its prefix stripped, as a config route would.
  expect(await fetchText('menu/a/b.cfg')).toBe('one a/b.cfg');
  // The record goes out once the final ACK is read, a moment after the client has its bytes.
  expect(await eventually(async () => records.some((r) => r.file === 'menu/a/b.cfg'))).toBe(true);
  expect(records.find((r) => r.file === 'menu/a/b.cfg')).toMatchObject({ function: 'menu', version: v1.id, route: `menu@${v1.id}#0`, outcome: 'ok' });
  // The config's route wins its own path; the default route the rest.
  expect(await fetchText('menu/fixed.cfg')).toBe('from the config route');
  expect(await fetchText('plain.txt')).toBe('from the root folder');

  // A canary that declares other routes: they do not count while it is a canary.
  const v2 = await publish(cp, 'two', [{ match: 'other/**' }]);
  await cp.setRollout('menu', { stable: v1.id, canary: { version: v2.id, percent: 50 } });
  expect(await eventually(async () => (await cp.acks('menu')).some((a) => a.revision === 2 && a.ok))).toBe(true);
  expect(await fetchError('other/x')).toBeInstanceOf(TftpError);
  expect((await fetchText('menu/x')).split(' ')[0]).toMatch(/^(one|two)$/);

  // A stable version without routes: menu/** goes back to the default (a folder without it: not found).
  const v3 = await publish(cp, 'three');
  await cp.setRollout('menu', { stable: v3.id });
  expect(await eventually(async () => (await cp.acks('menu')).some((a) => a.revision === 3 && a.ok))).toBe(true);
  const gone = await fetchError('menu/a/b.cfg');
  expect(gone).toBeInstanceOf(TftpError);
  expect((gone as TftpError & { remoteCode: number }).remoteCode).toBe(1);
  expect(await fetchText('menu/fixed.cfg')).toBe('from the config route');
});
