import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { GatewayConfig } from '../../../gateway/src/config/schema.js';
import { parseConfig } from '../../../gateway/src/config/load.js';
import { ErrorCode, TftpError } from '../../../gateway/src/protocol/error-codes.js';
import { normalizePath } from '../../../gateway/src/protocol/path.js';
import type { RequestHandler, SessionTags, TftpRequest } from '../../../gateway/src/handlers/request.js';
import { parseRemap } from '../../../gateway/src/routing/remap.js';
import { buildRouterFromConfig, createRouter, MAX_DENY_MESSAGE_CHARS, safeDenyMessage, type RouterOptions } from '../../../gateway/src/handlers/router.js';
import { parseRouteTable } from '../../../gateway/src/routing/routes.js';
import { memoryReader } from '../../../gateway/src/sources/memory.js';
import type { ByteWriter } from '../../../gateway/src/sources/types.js';

interface Seen {
  kind: 'read' | 'write';
  raw: string;
  path: string;
  tags: SessionTags;
}

/** A handler that records what it was asked for; `writable` gives it an openWrite. */
function fake(name: string, log: (Seen & { target: string })[], writable = false): RequestHandler {
  const seen = (kind: 'read' | 'write', r: TftpRequest, tags: SessionTags) => log.push({ target: name, kind, raw: r.path.raw, path: r.path.normalized, tags: { ...tags } });
  return {
    async openRead(r, tags) {
      seen('read', r, tags);
      return { reader: memoryReader(new TextEncoder().encode(name)), source: 'memory' };
    },
    openWrite: writable
      ? async (r, tags) => {
          seen('write', r, tags);
          return {} as ByteWriter;
        }
      : undefined,
  };
}

function request(raw: string, kind: 'read' | 'write' = 'read', address = '192.168.0.10'): TftpRequest {
  const family = address.includes(':') ? 'IPv6' : 'IPv4';
  return {
    id: 't-1',
    kind,
    path: normalizePath(raw),
    mode: 'octet',
    options: {},
    peer: { address, port: 40000, family },
    local: { address: family === 'IPv4' ? '127.0.0.1' : '::1', port: 69, family },
  };
}

function setup(routing: unknown, opts: { remap?: string; functions?: string[]; writable?: string[] } = {}) {
  const log: (Seen & { target: string })[] = [];
  const folderCalls: string[] = [];
  const functions = new Map((opts.functions ?? ['pxe', 'grub']).map((n) => [n, fake(`fn:${n}`, log, opts.writable?.includes(`fn:${n}`))]));
  const options: RouterOptions = {
    table: parseRouteTable(routing),
    remap: opts.remap === undefined ? undefined : parseRemap(opts.remap),
    functionHandler: (n) => functions.get(n),
    folderHandler: (f) => {
      folderCalls.push(f);
      return fake(`dir:${f}`, log, opts.writable?.includes(`dir:${f}`));
    },
  };
  const router = createRouter(options);
  const read = async (raw: string, address?: string) => {
    const tags: SessionTags = {};
    await router.openRead(request(raw, 'read', address), tags);
    return { ...log[log.length - 1], finalTags: tags };
  };
  const write = async (raw: string, address?: string) => {
    const tags: SessionTags = {};
    await router.openWrite!(request(raw, 'write', address), tags);
    return { ...log[log.length - 1], finalTags: tags };
  };
  return { router, log, folderCalls, read, write };
}

/** The TftpError a promise rejects with, plus the tags the router left. */
async function refusal(p: unknown): Promise<TftpError> {
  const e = await Promise.resolve(p).then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(TftpError);
  return e as TftpError;
}

const TABLE = {
  routes: [
    { match: 'pxelinux.cfg/*', function: 'pxe', stripPrefix: true },
    { match: 'pxelinux.cfg/default', function: 'grub' },
    { match: 'tftpboot/images/**', folder: '/srv/images', stripPrefix: 'tftpboot' },
    { match: '**/*.efi', folder: '/srv/efi' },
  ],
  default: { folder: '/srv/tftp' },
};

describe('router: routes', () => {
  it('router: the first matching route wins, even when a later one is more specific', async () => {
    const { read } = setup(TABLE);
    const got = await read('pxelinux.cfg/default');
    expect(got.target).toBe('fn:pxe');
    expect(got.tags).toEqual({ route: '0', function: 'pxe' });
  });

  it('router: stripPrefix gives the target the rest of the path, and path.raw stays what the client sent', async () => {
    const { read } = setup(TABLE);
    const a = await read('/pxelinux.cfg/01-aa-bb-cc-dd-ee-ff');
    expect(a).toMatchObject({ target: 'fn:pxe', path: '01-aa-bb-cc-dd-ee-ff', raw: '/pxelinux.cfg/01-aa-bb-cc-dd-ee-ff' });
    const b = await read('tftpboot/images/x/vmlinuz');
    expect(b).toMatchObject({ target: 'dir:/srv/images', path: 'images/x/vmlinuz', tags: { route: '2', source: 'folder' } });
  });

  it('router: a route without stripPrefix passes the whole normalised path', async () => {
    const { read } = setup(TABLE);
    const got = await read('//boot//x64.efi');
    expect(got).toMatchObject({ target: 'dir:/srv/efi', path: 'boot/x64.efi', tags: { route: '3', source: 'folder' } });
  });

  it('router: a path no route matches goes to the default, tagged "default"', async () => {
    const { read } = setup(TABLE);
    const got = await read('pxelinux.0');
    expect(got).toMatchObject({ target: 'dir:/srv/tftp', path: 'pxelinux.0', tags: { route: 'default', source: 'folder' } });
  });

  it('router: a function default is tagged with the function', async () => {
    const { read } = setup({ routes: [], default: { function: 'grub' } });
    const got = await read('anything/at/all');
    expect(got).toMatchObject({ target: 'fn:grub', path: 'anything/at/all', tags: { route: 'default', function: 'grub' } });
  });

  it('router: with no match and no default the client gets ERROR 1', async () => {
    const { router } = setup({ routes: [{ match: '*.cfg', folder: '/srv/cfg' }] });
    const e = await refusal(router.openRead(request('boot/x.bin'), {}));
    expect(e.tftpCode).toBe(ErrorCode.FileNotFound);
    expect(e.message).toBe('file not found');
  });

  it('router: a function that is not loaded is ERROR 0 "function unavailable", tagged with its name', async () => {
    const { router } = setup({ routes: [{ match: '**', function: 'gone' }] }, { functions: [] });
    const tags: SessionTags = {};
    const e = await refusal(router.openRead(request('x'), tags));
    expect(e.tftpCode).toBe(ErrorCode.NotDefined);
    expect(e.message).toBe('function unavailable');
    expect(e.code).toBe('TFTP_FUNCTION_FAILED');
    expect(tags).toEqual({ route: '0', function: 'gone' });
  });

  it('router: a function loaded after the router was built is found (looked up per request)', async () => {
    const log: (Seen & { target: string })[] = [];
    let loaded: RequestHandler | undefined;
    const router = createRouter({ table: parseRouteTable({ default: { function: 'late' } }), functionHandler: () => loaded, folderHandler: () => fake('dir', log) });
    await refusal(router.openRead(request('a'), {}));
    loaded = fake('fn:late', log);
    await router.openRead(request('a'), {});
    expect(log.map((l) => l.target)).toEqual(['fn:late']);
  });

  it('router: builds each folder handler once, up front', async () => {
    const { read, folderCalls } = setup(TABLE);
    expect(folderCalls).toEqual(['/srv/images', '/srv/efi', '/srv/tftp']);
    await read('a');
    await read('b.efi');
    expect(folderCalls).toHaveLength(3);
  });

  it('router: a folder that cannot be served fails construction, naming the route', () => {
    const table = parseRouteTable({ routes: [{ match: 'a/*', folder: '/nope' }] });
    expect(() =>
      createRouter({
        table,
        functionHandler: () => undefined,
        folderHandler: () => {
          throw new Error('not a folder');
        },
      }),
    ).toThrow('field "routes.0.folder": cannot serve /nope: not a folder');
  });
});

describe('router: writes', () => {
  it('router: a write goes to the openWrite of the route it resolves to', async () => {
    const { write } = setup(TABLE, { writable: ['dir:/srv/tftp', 'fn:pxe'] });
    const a = await write('uploads/log.txt');
    expect(a).toMatchObject({ target: 'dir:/srv/tftp', kind: 'write', path: 'uploads/log.txt', tags: { route: 'default', source: 'folder' } });
    const b = await write('pxelinux.cfg/01-aa');
    expect(b).toMatchObject({ target: 'fn:pxe', kind: 'write', path: '01-aa', tags: { route: '0', function: 'pxe' } });
  });

  it('router: a write to a target without openWrite is ERROR 2 "writes are disabled"', async () => {
    const { router } = setup(TABLE, { writable: ['dir:/srv/tftp'] });
    const tags: SessionTags = {};
    const e = await refusal(router.openWrite!(request('x.efi', 'write'), tags));
    expect(e.tftpCode).toBe(ErrorCode.AccessViolation);
    expect(e.message).toBe('writes are disabled');
    expect(tags.route).toBe('3');
  });

  it('router: a write nothing matches is ERROR 1 like a read', async () => {
    const { router } = setup({ routes: [{ match: '*.cfg', folder: '/srv/cfg' }] }, { writable: ['dir:/srv/cfg'] });
    const e = await refusal(router.openWrite!(request('x.bin', 'write'), {}));
    expect(e.tftpCode).toBe(ErrorCode.FileNotFound);
  });
});

describe('router: remap before routes', () => {
  it('router: an r rule rewrites the raw name before routing, and the result is normalised', async () => {
    const { read } = setup(TABLE, { remap: 'r ^/tftpboot/\n' });
    const got = await read('/tftpboot/pxelinux.cfg/01-aa');
    expect(got).toMatchObject({ target: 'fn:pxe', path: '01-aa', raw: '/tftpboot/pxelinux.cfg/01-aa' });
  });

  it('router: an i rule matches case-insensitively', async () => {
    const { read } = setup(TABLE, { remap: 'ri ^PXELINUX\\.CFG/ pxelinux.cfg/\n' });
    const got = await read('PxeLinux.Cfg/01-AA');
    expect(got).toMatchObject({ target: 'fn:pxe', path: '01-AA' });
  });

  it('router: \\L in the replacement lower-cases groups', async () => {
    const { read } = setup(TABLE, { remap: 'ri ^(pxelinux\\.cfg/01-[0-9a-f-]+)$ \\L\\1\n' });
    const got = await read('pxelinux.cfg/01-AA-BB');
    expect(got.path).toBe('01-aa-bb');
  });

  it('router: an e rule stops remapping at its match', async () => {
    const { read } = setup(TABLE, { remap: 'e ^keep/\nr ^keep/ tftpboot/images/\n' });
    const got = await read('keep/a.bin');
    expect(got).toMatchObject({ target: 'dir:/srv/tftp', path: 'keep/a.bin' });
  });

  it('router: a g rule rewrites every match', async () => {
    const { read } = setup(TABLE, { remap: 'rg _ /\n' });
    const got = await read('tftpboot_images_x_vmlinuz');
    expect(got).toMatchObject({ target: 'dir:/srv/images', path: 'images/x/vmlinuz' });
  });

  it('router: \\i puts the client IP in the path, mapped IPv4 included', async () => {
    const { read } = setup(TABLE, { remap: 'r ^hosts/ tftpboot/images/\\i/\n' });
    const a = await read('hosts/boot.cfg', '10.1.2.3');
    expect(a).toMatchObject({ target: 'dir:/srv/images', path: 'images/10.1.2.3/boot.cfg' });
    const b = await read('hosts/boot.cfg', '::ffff:10.9.8.7');
    expect(b.path).toBe('images/10.9.8.7/boot.cfg');
  });

  it('router: G and P rules apply to reads and writes only', async () => {
    const { read, write } = setup(TABLE, { remap: 'rG ^x$ read.efi\nrP ^x$ written\n', writable: ['dir:/srv/tftp', 'dir:/srv/efi'] });
    expect(await read('x')).toMatchObject({ target: 'dir:/srv/efi', path: 'read.efi' });
    expect(await write('x')).toMatchObject({ target: 'dir:/srv/tftp', path: 'written', kind: 'write' });
  });

  it('router: an a rule refuses with ERROR 2 and its text, tagged "remap"', async () => {
    const { router, log } = setup(TABLE, { remap: 'a \\.key$ no\\ keys\\ here\n' });
    const tags: SessionTags = {};
    const e = await refusal(router.openRead(request('secrets/host.key'), tags));
    expect(e.tftpCode).toBe(ErrorCode.AccessViolation);
    expect(e.message).toBe('no keys here');
    expect(tags).toEqual({ route: 'remap' });
    expect(log).toHaveLength(0);
  });

  it('router: an a rule without text refuses with the generic text', async () => {
    const { router } = setup(TABLE, { remap: 'a \\.key$\n' });
    const e = await refusal(router.openRead(request('host.key'), {}));
    expect(e.message).toBe('access violation');
  });

  it('router: client text copied into an a rule message is capped and stripped of controls', async () => {
    const { router } = setup(TABLE, { remap: 'a ^deny/(.*)$ denied:\\ \\1\n' });
    const long = `deny/${'x'.repeat(300)}`;
    const e = await refusal(router.openRead(request(long), {}));
    expect(e.message).toBe(`denied: ${'x'.repeat(MAX_DENY_MESSAGE_CHARS - 'denied: '.length)}`);
    expect(safeDenyMessage('a\u0000b\u001bc\u0085d\u007f')).toBe('abcd');
    expect(safeDenyMessage('\u0000\u0001')).toBe('access violation');
    // A cut never leaves half a surrogate pair on the wire.
    expect(Array.from(safeDenyMessage('😀'.repeat(100)))).toHaveLength(MAX_DENY_MESSAGE_CHARS);
  });

  it('router: a remap loop is refused with the generic text', async () => {
    const { router } = setup(TABLE, { remap: 'rg a aa\n' });
    const e = await refusal(router.openRead(request('a'), {}));
    expect(e.tftpCode).toBe(ErrorCode.AccessViolation);
    expect(e.message).toBe('access violation');
  });

  it('router: a rewrite that escapes the root through ".." is refused with ERROR 2', async () => {
    const { router, log } = setup(TABLE, { remap: 'r ^up/ ../../etc/\n' });
    const tags: SessionTags = {};
    const e = await refusal(router.openRead(request('up/passwd'), tags));
    expect(e.tftpCode).toBe(ErrorCode.AccessViolation);
    expect(e.message).toBe('access violation');
    expect((e.cause as Error).message).toContain('".." in path');
    expect(tags.route).toBe('remap');
    expect(log).toHaveLength(0);
  });

  it('router: a rewrite to an empty name is refused with ERROR 2', async () => {
    const { router } = setup(TABLE, { remap: 'r ^gone$\n' });
    expect((await refusal(router.openRead(request('gone'), {}))).tftpCode).toBe(ErrorCode.AccessViolation);
  });

  it('router: a leading "/" from a rewrite is harmless: the result is normalised like a client path', async () => {
    const { read } = setup(TABLE, { remap: 'r ^(.*)$ /tftpboot/images/\\1\n' });
    expect(await read('k')).toMatchObject({ target: 'dir:/srv/images', path: 'images/k' });
  });
});

describe('buildRouterFromConfig', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tftpfn-router-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  // deployDir: routes may then name functions the config does not define.
  const config = (fields: Record<string, unknown>): GatewayConfig => parseConfig({ root: '/srv/root', deployDir: dir, ...fields });

  function deps(withRoot = false) {
    const log: (Seen & { target: string })[] = [];
    const d = {
      functionHandler: (n: string) => (n === 'pxe' ? fake('fn:pxe', log) : undefined),
      folderHandler: (f: string) => fake(`dir:${f}`, log),
      rootHandler: withRoot ? () => fake('root+writes', log, true) : undefined,
    };
    return { d, log };
  }

  it('buildRouterFromConfig: no routes, no defaultRoute and no remapFile means no router', () => {
    expect(buildRouterFromConfig(config({}), deps().d)).toBeUndefined();
  });

  it('buildRouterFromConfig: routes and defaultRoute become the route table', async () => {
    const { d, log } = deps();
    const router = buildRouterFromConfig(config({ routes: [{ match: 'pxelinux.cfg/*', function: 'pxe', stripPrefix: true }], defaultRoute: { folder: '/srv/tftp' } }), d)!;
    await router.openRead(request('pxelinux.cfg/x'), {});
    await router.openRead(request('y'), {});
    expect(log.map((l) => [l.target, l.path])).toEqual([
      ['fn:pxe', 'x'],
      ['dir:/srv/tftp', 'y'],
    ]);
  });

  it('buildRouterFromConfig: a remap file alone serves the root folder, as in.tftpd -m does', async () => {
    const file = join(dir, 'alone.remap');
    writeFileSync(file, 'r ^/tftpboot/\n');
    const { d, log } = deps();
    const router = buildRouterFromConfig(config({ remapFile: file }), d)!;
    const tags: SessionTags = {};
    await router.openRead(request('/tftpboot/pxelinux.0'), tags);
    expect(log[0]).toMatchObject({ target: 'dir:/srv/root', path: 'pxelinux.0' });
    expect(tags.route).toBe('default');
  });

  it('buildRouterFromConfig: with only a remap file, rootHandler (root with writeRoot) is the fallback', async () => {
    const file = join(dir, 'writes.remap');
    writeFileSync(file, 'rP ^(.*)$ uploads/\\i/\\1\n');
    const { d, log } = deps(true);
    const router = buildRouterFromConfig(config({ remapFile: file }), d)!;
    await router.openWrite!(request('log.txt', 'write', '10.0.0.5'), {});
    expect(log[0]).toMatchObject({ target: 'root+writes', kind: 'write', path: 'uploads/10.0.0.5/log.txt' });
  });

  it('buildRouterFromConfig: routes with a remap file and no defaultRoute leave unmatched paths at ERROR 1', async () => {
    const file = join(dir, 'with-routes.remap');
    writeFileSync(file, 'r ^/tftpboot/\n');
    const router = buildRouterFromConfig(config({ remapFile: file, routes: [{ match: 'pxelinux.cfg/*', function: 'pxe' }] }), deps().d)!;
    const e = await refusal(router.openRead(request('/tftpboot/other.bin'), {}));
    expect(e.tftpCode).toBe(ErrorCode.FileNotFound);
  });

  it('buildRouterFromConfig: a bad remap file fails start-up naming the field, the file and the line', () => {
    const file = join(dir, 'bad.remap');
    writeFileSync(file, 'r ok\nz x\n');
    expect(() => buildRouterFromConfig(config({ remapFile: file }), deps().d)).toThrow(`field "remapFile": ${file}: remap line 2: unknown flag "z"`);
    expect(() => buildRouterFromConfig(config({ remapFile: join(dir, 'missing.remap') }), deps().d)).toThrow(/field "remapFile": cannot read .*missing\.remap \(ENOENT\)/);
  });
});
