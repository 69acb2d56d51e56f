/**
 * `tftpfn kv` as a user runs it, against a real redis-server: import the example inventory,
 * read and change keys, and see the grub example (a FunctionRuntime entry on RedisKvStore, as
 * a gateway runs it) answer from the store. Needs the build (`npm run build`). The import, get,
 * set and del tests run on one server, behind Sentinel and on a 3-master Cluster; refusals,
 * usage errors and the grub example on one server.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { RedisKvStore } from '../../gateway/src/cache/redis-kv.js';
import { parseConfig } from '../../gateway/src/config/load.js';
import { normalizePath } from '../../gateway/src/protocol/path.js';
import { FunctionRuntime } from '../../gateway/src/runtime/function-runtime.js';
import { captureLog, eventually } from '../helpers/functions.js';
import { freePort } from '../helpers/free-port.js';
import { startRedis, type TestRedis } from '../helpers/redis-server.js';
import { REDIS_TOPOLOGIES, startTopology, type TestTopology } from '../helpers/redis-topology.js';
import { runCli } from '../helpers/cli.js';

const repo = join(dirname(fileURLToPath(import.meta.url)), '../..');
const inventoryFile = join(repo, 'functions/grub/inventory.json');
const inventory = JSON.parse(readFileSync(inventoryFile, 'utf8')) as { default: object; machines: Record<string, object> };

let single: TestRedis;
/** The Redis of the tests of the moment: a topology's, else the one server. */
let redis: { url: string; cli: TestRedis['cli'] };
let work: string;

beforeAll(async () => {
  if (!existsSync(join(repo, 'dist/gateway/src/cli/main.js'))) {
    const r = spawnSync('npm', ['run', 'build', '--silent'], { cwd: repo, stdio: 'inherit' });
    if (r.status !== 0) throw new Error('npm run build failed');
  }
  redis = single = await startRedis();
  work = mkdtempSync(join(tmpdir(), 'tftpfn-cli-kv-'));
});
afterAll(async () => {
  await single?.cleanup();
  if (work) rmSync(work, { recursive: true, force: true });
});

/** Runs the CLI with TFTPFN_REDIS_URL pointing at the test Redis unless `env` says otherwise. */
const tftpfn = (args: string[], env: Record<string, string | undefined> = {}) => runCli(args, { cwd: work, env: { TFTPFN_REDIS_URL: redis.url, ...env } });

const redisGet = async (key: string) => {
  const v = await redis.cli('GET', key);
  return v === null ? null : String(v);
};

describe.each(REDIS_TOPOLOGIES)('tftpfn kv (%s)', (kind) => {
  let topo: TestTopology;
  beforeAll(async () => {
    redis = topo = await startTopology(kind);
  });
  afterAll(async () => {
    redis = single;
    await topo?.cleanup();
  });

  test('kv import: every machine goes to tftpfn:kv:machine:<mac|ip>, the default to tftpfn:kv:machine:default', async () => {
    await redis.cli('FLUSHALL');
    const r = await tftpfn(['kv', 'import', inventoryFile]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`imported 2 machine(s) and the default from ${inventoryFile} as tftpfn:kv:machine:*`);
    expect(JSON.parse((await redisGet('tftpfn:kv:machine:52:54:00:12:34:56'))!)).toEqual(inventory.machines['52:54:00:12:34:56']);
    expect(JSON.parse((await redisGet('tftpfn:kv:machine:10.0.0.7'))!)).toEqual(inventory.machines['10.0.0.7']);
    expect(JSON.parse((await redisGet('tftpfn:kv:machine:default'))!)).toEqual(inventory.default);
    expect(((await redis.cli('KEYS', '*')) as Buffer[]).map(String).sort()).toEqual([
      'tftpfn:kv:machine:10.0.0.7', 'tftpfn:kv:machine:52:54:00:12:34:56', 'tftpfn:kv:machine:default',
    ]);
  });

  test('kv import: MACs in any form are written in colon form; IPv6 keys in canonical form', async () => {
    await redis.cli('FLUSHALL');
    const file = join(work, 'forms.json');
    writeFileSync(file, JSON.stringify({ machines: { 'AA-BB-CC-DD-EE-F0': { kernel: '/a' }, '01-aa-bb-cc-dd-ee-f1': { kernel: '/b' }, '2001:DB8:0::1': { kernel: '/c' } } }));
    const r = await tftpfn(['kv', 'import', file, '--redis-url', redis.url], { TFTPFN_REDIS_URL: undefined });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('imported 3 machine(s) from');
    expect(((await redis.cli('KEYS', '*')) as Buffer[]).map(String).sort()).toEqual([
      'tftpfn:kv:machine:2001:db8::1', 'tftpfn:kv:machine:aa:bb:cc:dd:ee:f0', 'tftpfn:kv:machine:aa:bb:cc:dd:ee:f1',
    ]);
  });

  test('kv get, set (text, @file, --ttl) and del', async () => {
    await redis.cli('FLUSHALL');
    expect(await tftpfn(['kv', 'set', 'motd', 'hello there'])).toMatchObject({ code: 0, stdout: 'set motd (11 bytes)\n' });
    expect(await redisGet('tftpfn:kv:motd')).toBe('hello there');
    expect(await tftpfn(['kv', 'get', 'motd'])).toMatchObject({ code: 0, stdout: 'hello there', stderr: '' });

    const entry = join(work, 'entry.json');
    writeFileSync(entry, JSON.stringify({ kernel: '/from-file' }));
    expect((await tftpfn(['kv', 'set', 'machine:default', `@${entry}`, '--ttl', '600'])).code).toBe(0);
    expect(await redisGet('tftpfn:kv:machine:default')).toBe('{"kernel":"/from-file"}');
    const ttl = (await redis.cli('TTL', 'tftpfn:kv:machine:default')) as number;
    expect(ttl > 590 && ttl <= 600).toBe(true);

    expect(await tftpfn(['kv', 'del', 'motd'])).toMatchObject({ code: 0, stdout: 'deleted motd\n' });
    const absent = await tftpfn(['kv', 'get', 'motd']);
    expect([absent.code, absent.stdout, absent.stderr]).toEqual([1, '', 'tftpfn kv get: no key "motd" (Redis key tftpfn:kv:motd)\n']);
    const noFile = await tftpfn(['kv', 'set', 'x', '@nope.json']);
    expect([noFile.code, noFile.stderr]).toEqual([1, 'tftpfn kv set: cannot read nope.json (ENOENT)\n']);
  });

});

// Refused before Redis is written to: one server is enough.
describe('tftpfn kv: refusals and usage', () => {
  test('kv import: a bad inventory is refused with the reason, and nothing is written', async () => {
    await redis.cli('FLUSHALL');
    const cases: [unknown, string][] = [
      [[1], 'must be a JSON object with "machines" and/or "default"'],
      [{ machine: {} }, 'unknown field "machine" (expected "machines" and "default")'],
      [{ machines: { web01: { kernel: '/k' } } }, 'machines["web01"]: the key must be a MAC (aa:bb:cc:dd:ee:ff) or an IP address'],
      [{ machines: { 'aa:bb:cc:dd:ee:ff': { kernel: '/k' }, 'AA-BB-CC-DD-EE-FF': { kernel: '/k' } } }, 'the same machine as another key (aa:bb:cc:dd:ee:ff)'],
      [{ default: { initrd: '/i' } }, 'default must be an object with a "kernel" string'],
      [{}, 'has no machines and no default: nothing to import'],
    ];
    for (const [content, reason] of cases) {
      const file = join(work, 'bad.json');
      writeFileSync(file, JSON.stringify(content));
      const r = await tftpfn(['kv', 'import', file]);
      expect([r.code, r.stderr.trim()], reason).toEqual([1, expect.stringContaining(reason)]);
      expect(r.stderr).toMatch(/^tftpfn kv import: /);
    }
    writeFileSync(join(work, 'broken.json'), '{ "default": ');
    const broken = await tftpfn(['kv', 'import', join(work, 'broken.json')]);
    expect([broken.code, broken.stderr]).toEqual([1, expect.stringMatching(/broken\.json is not valid JSON \(/)]);
    const missing = await tftpfn(['kv', 'import', join(work, 'missing.json')]);
    expect([missing.code, missing.stderr]).toEqual([1, expect.stringMatching(/cannot read .*missing\.json \(ENOENT\)/)]);
    expect(await redis.cli('DBSIZE')).toBe(0);
  });

  test('kv: no Redis given is a usage error; an unreachable Redis says so and how to fix it', async () => {
    const none = await tftpfn(['kv', 'get', 'x'], { TFTPFN_REDIS_URL: undefined });
    expect([none.code, none.stderr]).toEqual([2, 'tftpfn kv get: no Redis given: pass --redis-url redis://HOST:PORT or set TFTPFN_REDIS_URL\n']);
    const port = await freePort();
    const down = await tftpfn(['kv', 'import', inventoryFile, '--redis-url', `redis://127.0.0.1:${port}`]);
    expect(down.code).toBe(1);
    expect(down.stderr).toBe(
      `tftpfn kv import: cannot reach Redis at redis://127.0.0.1:${port} (connect ECONNREFUSED 127.0.0.1:${port}): is redis-server running there? Check --redis-url or TFTPFN_REDIS_URL\n`,
    );
  });
});

describe('the grub example answers from what tftpfn kv wrote', () => {
  test('grub: an imported inventory is served from Redis, and a kv set is seen on the next request', async () => {
    await redis.cli('FLUSHALL');
    expect((await tftpfn(['kv', 'import', inventoryFile])).code).toBe(0);

    const log = captureLog('info');
    const store = new RedisKvStore({ url: redis.url, logger: log.logger });
    const config = parseConfig({ functions: { grub: { entry: join(repo, 'functions/grub/index.ts'), poolSize: 1 } } });
    const rt = await FunctionRuntime.start({ config, log: log.logger, kv: store });
    try {
      expect(await eventually(() => store.available, 5000, 10)).toBe(true);
      const grubCfg = async (path: string, peer = '127.0.0.1') => {
        const request = { id: `g${Math.random()}`, kind: 'read' as const, path: normalizePath(path), mode: 'octet' as const, options: {}, peer: { address: peer, port: 5000, family: 'IPv4' as const }, local: { address: '127.0.0.1', port: 69, family: 'IPv4' as const } };
        const opened = await rt.handler('grub')!.openRead(request, {});
        const parts: Uint8Array[] = [];
        for (let c = await opened.reader.read(65536); c !== null; c = await opened.reader.read(65536)) parts.push(c);
        await opened.reader.close();
        return Buffer.concat(parts).toString();
      };

      expect(await grubCfg('grub.cfg-01-52-54-00-12-34-56')).toContain("menuentry 'web01.lab.example' {\n\tlinux '(tftp)/images/fedora-40/vmlinuz' ");
      expect(await grubCfg('grub.cfg', '10.0.0.7')).toContain('# tftpfn grub: db01.lab.example (matched by ip 10.0.0.7)\n');
      const line = log.lines.find((l) => l.event === 'functionLog' && l.msg === 'grub config');
      expect(line).toMatchObject({ matchedBy: 'mac', key: '52:54:00:12:34:56', source: 'kv' });

      // The operator changes a machine: grub does not cache, so the next request sees it.
      const changed = join(work, 'web01.json');
      writeFileSync(changed, JSON.stringify({ ...inventory.machines['52:54:00:12:34:56'], kernel: '(tftp)/images/fedora-41/vmlinuz' }));
      expect((await tftpfn(['kv', 'set', 'machine:52:54:00:12:34:56', `@${changed}`])).code).toBe(0);
      expect(await grubCfg('grub.cfg-01-52-54-00-12-34-56')).toContain("\tlinux '(tftp)/images/fedora-41/vmlinuz' ");

      // A machine only the store knows: the bundled inventory has no such MAC and would give the default.
      expect((await tftpfn(['kv', 'set', 'machine:aa:bb:cc:dd:ee:01', '{"hostname":"kv-only","kernel":"/kv"}'])).code).toBe(0);
      expect(await grubCfg('aa-bb-cc-dd-ee-01/grub.cfg')).toContain('# tftpfn grub: kv-only (matched by mac aa:bb:cc:dd:ee:01)\n');

      // Deleted from the store: the bundled inventory answers again.
      expect((await tftpfn(['kv', 'del', 'machine:52:54:00:12:34:56'])).code).toBe(0);
      expect((await tftpfn(['kv', 'del', 'machine:default'])).code).toBe(0);
      expect(await grubCfg('grub.cfg-01-52-54-00-12-34-56')).toContain("\tlinux '(tftp)/images/fedora-40/vmlinuz' ");
    } finally {
      await rt.close(1000);
      await store.close();
    }
  });
});
