/**
 * The router in a real gateway on loopback: remap → routes → default decide which folder or
 * function serves each transfer, and the session records say which route and function did.
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { get, put } from '../../client/index.js';
import { parseConfig } from '../../gateway/src/config/load.js';
import { ErrorCode, TftpError } from '../../gateway/src/protocol/error-codes.js';
import type { RequestHandler } from '../../gateway/src/handlers/request.js';
import { parseRemap } from '../../gateway/src/routing/remap.js';
import { buildRouterFromConfig, createRouter } from '../../gateway/src/handlers/router.js';
import { parseRouteTable } from '../../gateway/src/routing/routes.js';
import { folderHandler } from '../../gateway/src/handlers/folder.js';
import { memoryReader } from '../../gateway/src/sources/memory.js';
import { makeRoot, startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { startGateway } from '../../gateway/src/index.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function tempDir(files: Record<string, string> = {}): string {
  const d = makeRoot(files);
  cleanups.push(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

async function gateway(handler: RequestHandler): Promise<TestGateway> {
  const gw = await startTestGateway({ root: tempDir(), handler, config: { logLevel: 'silent' } });
  cleanups.push(() => gw.stop());
  return gw;
}

async function tftpErrorOf(p: Promise<unknown>): Promise<TftpError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(TftpError);
    return e as TftpError;
  }
  throw new Error('expected the transfer to fail with a TFTP ERROR');
}

const fast = { timeoutMs: 1000, retries: 2 };

/** A function stand-in: answers with the path it was given and the client's address. */
function pxeFunction(): RequestHandler {
  return {
    async openRead(request) {
      const body = `pxe for ${request.path.normalized} from ${request.peer.address}\n`;
      return { reader: memoryReader(new TextEncoder().encode(body)), source: 'generated' };
    },
  };
}

describe('routing: a real gateway with a router', () => {
  it('routing: transfers land on the route that matches, after remap, and records name route and function', async () => {
    const images = tempDir({ 'x/vmlinuz': 'kernel bytes' });
    const fallback = tempDir({ 'pxelinux.0': 'bootloader', 'host.key': 'secret' });
    const uploads = tempDir();
    const router = createRouter({
      table: parseRouteTable({
        routes: [
          { match: 'pxelinux.cfg/*', function: 'pxe', stripPrefix: true },
          { match: 'images/**', folder: images, stripPrefix: true },
          { match: 'uploads/**', folder: uploads, stripPrefix: true },
        ],
        default: { folder: fallback },
      }),
      remap: parseRemap(['a \\.key$ keys\\ are\\ not\\ served', 'r ^/tftpboot/', 'rP ^uploads/(.*)$ uploads/\\i-\\1'].join('\n')),
      functionHandler: (name) => (name === 'pxe' ? pxeFunction() : undefined),
      folderHandler: (folder) => folderHandler({ root: folder, writeRoot: folder === uploads ? uploads : undefined }),
    });
    const gw = await gateway(router);
    const at = { host: '127.0.0.1', port: gw.port, ...fast };

    const fn = await get({ ...at, path: '/tftpboot/pxelinux.cfg/01-aa-bb' });
    expect(fn.data!.toString()).toBe('pxe for 01-aa-bb from 127.0.0.1\n');
    const fnRec = await gw.waitForRecord((r) => r.file === '/tftpboot/pxelinux.cfg/01-aa-bb');
    expect(fnRec).toMatchObject({ outcome: 'ok', route: '0', function: 'pxe', source: 'generated' });

    const img = await get({ ...at, path: 'images/x/vmlinuz' });
    expect(img.data!.toString()).toBe('kernel bytes');
    expect(await gw.waitForRecord((r) => r.file === 'images/x/vmlinuz')).toMatchObject({ outcome: 'ok', route: '1', function: undefined, source: 'folder' });

    const def = await get({ ...at, path: '/tftpboot/pxelinux.0' });
    expect(def.data!.toString()).toBe('bootloader');
    expect(await gw.waitForRecord((r) => r.file === '/tftpboot/pxelinux.0')).toMatchObject({ outcome: 'ok', route: 'default' });

    // The remap 'a' rule refuses before routing, with the operator's text on the wire.
    const denied = await tftpErrorOf(get({ ...at, path: 'host.key' }));
    expect(denied.tftpCode).toBe(ErrorCode.AccessViolation);
    expect(denied.message).toBe('keys are not served');
    expect(await gw.waitForRecord((r) => r.file === 'host.key')).toMatchObject({ outcome: 'denied', route: 'remap' });
    // Other spellings that normalise to host.key are refused by the same rule (issue 9 §4:
    // these served the key before).
    for (const variant of ['host.key/', 'host.key/.', '/tftpboot/host.key//', 'host.key\\']) {
      const v = await tftpErrorOf(get({ ...at, path: variant }));
      expect([v.tftpCode, v.message], variant).toEqual([ErrorCode.AccessViolation, 'keys are not served']);
    }

    // Writes: the upload route's folder takes them, under a name with the client's address.
    await put({ ...at, path: 'uploads/log.txt', data: new TextEncoder().encode('uploaded') });
    await gw.waitForRecord((r) => r.file === 'uploads/log.txt' && r.kind === 'write');
    expect(readFileSync(join(uploads, '127.0.0.1-log.txt'), 'utf8')).toBe('uploaded');

    // A write routed to a read-only folder is refused.
    const ro = await tftpErrorOf(put({ ...at, path: 'images/new.bin', data: new Uint8Array(3) }));
    expect(ro.tftpCode).toBe(ErrorCode.AccessViolation);
    expect(ro.message).toBe('writes are disabled');
  });

  it('routing: remap rules see raw names the gateway cannot normalise (DOS separators), as in.tftpd -m', async () => {
    const root = tempDir({ 'boot/pxelinux.0': 'bootloader' });
    const router = createRouter({
      table: parseRouteTable({ default: { folder: root } }),
      remap: parseRemap('rg \\\\ /'),
      functionHandler: () => undefined,
      folderHandler: (folder) => folderHandler({ root: folder }),
    });
    expect(router.rewritesRawPath).toBe(true);
    const gw = await gateway(router);
    const at = { host: '127.0.0.1', port: gw.port, ...fast };
    expect((await get({ ...at, path: 'boot\\pxelinux.0' })).data!.toString()).toBe('bootloader');
    expect(await gw.waitForRecord((r) => r.file === 'boot\\pxelinux.0')).toMatchObject({ outcome: 'ok', fileNormalized: 'boot/pxelinux.0' });
    // What no rule rewrote is refused as without remap; what a rule produces is checked too.
    const drive = await tftpErrorOf(get({ ...at, path: 'C:boot/pxelinux.0' }));
    expect(drive.tftpCode).toBe(ErrorCode.AccessViolation);
    const escape = await tftpErrorOf(get({ ...at, path: '..\\..\\etc\\passwd' }));
    expect(escape.tftpCode).toBe(ErrorCode.AccessViolation);
  });

  it('routing: no route and no default is ERROR 1; a function that is not loaded is ERROR 0', async () => {
    const folder = tempDir({ 'a.cfg': 'cfg' });
    const router = createRouter({
      table: parseRouteTable({ routes: [{ match: '*.cfg', folder }, { match: 'fn/**', function: 'missing' }] }),
      functionHandler: () => undefined,
      folderHandler: (root) => folderHandler({ root }),
    });
    const gw = await gateway(router);
    const at = { host: '127.0.0.1', port: gw.port, ...fast };

    expect((await get({ ...at, path: 'a.cfg' })).data!.toString()).toBe('cfg');
    const none = await tftpErrorOf(get({ ...at, path: 'b.bin' }));
    expect(none.tftpCode).toBe(ErrorCode.FileNotFound);
    const gone = await tftpErrorOf(get({ ...at, path: 'fn/x' }));
    expect(gone.tftpCode).toBe(ErrorCode.NotDefined);
    expect(gone.message).toBe('function unavailable');
    expect(await gw.waitForRecord((r) => r.file === 'fn/x')).toMatchObject({ route: '1', function: 'missing', errorCode: 0, outcome: 'function-error' });
  });

  it('routing: a remap file alone serves the root folder, as an in.tftpd -m setup did', async () => {
    const root = tempDir({ 'pxelinux.cfg/01-aa-bb': 'per-host config' });
    const remapFile = join(tempDir(), 'tftpd.remap');
    writeFileSync(remapFile, ['# from /etc/default/tftpd-hpa', 'r ^/tftpboot/', 'ri ^(pxelinux\\.cfg/01-[0-9a-f-]+)$ \\L\\1', 'r ^up/ ../'].join('\n'));
    const config = parseConfig({ root, remapFile });
    const router = buildRouterFromConfig(config, { functionHandler: () => undefined, folderHandler: (f) => folderHandler({ root: f }) })!;
    const gw = await gateway(router);
    const at = { host: '127.0.0.1', port: gw.port, ...fast };

    const got = await get({ ...at, path: '/tftpboot/PXELINUX.CFG/01-AA-BB' });
    expect(got.data!.toString()).toBe('per-host config');
    expect(await gw.waitForRecord((r) => r.file === '/tftpboot/PXELINUX.CFG/01-AA-BB')).toMatchObject({ route: 'default', source: 'folder' });
    // A rule that would climb out of the root is refused, not followed.
    const esc = await tftpErrorOf(get({ ...at, path: 'up/etc/passwd' }));
    expect(esc.tftpCode).toBe(ErrorCode.AccessViolation);
  });
});

describe('routing: bucket routes', () => {
  it('routing: a bucket prefix is a folder: "tftp" is refused at start naming the field, "tftp/" never reaches the sibling key tftp-private/', async () => {
    const buckets = tempDir({ 'boot/tftp/ok.txt': 'served', 'boot/tftp-private/keys.txt': 'private keys' });
    const route = (prefix: string) => ({ routes: [{ match: 'img2/**', bucket: 'boot', prefix, stripPrefix: true }] });
    expect(() => parseConfig({ bucketsDir: buckets, ...route('tftp') })).toThrow('field "routes.0.prefix": "tftp" does not end with "/", so the route would also reach sibling keys such as "tftp-private/...": write "tftp/"');
    const gw = await startGateway({ config: { hosts: ['127.0.0.1'], port: 0, bucketsDir: buckets, ...route('tftp/') } });
    try {
      const at = { host: '127.0.0.1', port: gw.port, ...fast };
      expect((await get({ ...at, path: 'img2/ok.txt' })).data!.toString()).toBe('served');
      const sibling = await tftpErrorOf(get({ ...at, path: 'img2/-private/keys.txt' }));
      expect(sibling.tftpCode).toBe(ErrorCode.FileNotFound);
    } finally {
      await gw.close(0);
    }
  });
});
