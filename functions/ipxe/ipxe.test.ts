import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { invoke, kvBinding, type KvBinding } from 'tftpfn/sdk';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { handle, ipxeTokenProblem } from './index.js';
import bundled from './inventory.json' with { type: 'json' };

const WEB01 = [
  '#!ipxe',
  '# tftpfn ipxe: web01.lab.example (matched by mac 52:54:00:12:34:56)',
  'echo tftpfn: booting web01.lab.example',
  'kernel http://10.0.0.1/images/fedora-40/vmlinuz initrd=initrd.img inst.ks=http://10.0.0.1/ks/web01.cfg ip=dhcp',
  'initrd http://10.0.0.1/images/fedora-40/initrd.img',
  'boot',
  '',
].join('\n');

let dir: string;
let files = 0;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tftpfn-ipxe-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function withInventory(inventory: unknown): Promise<{ vars: { INVENTORY: string } }> {
  const file = join(dir, `inventory-${++files}.json`);
  await writeFile(file, JSON.stringify(inventory));
  return { vars: { INVENTORY: file } };
}

describe('ipxe: bundled inventory', () => {
  test('ipxe: a machine known by MAC gets its script, from every MAC path form', async () => {
    for (const path of ['ipxe/01-52-54-00-12-34-56.ipxe', '52-54-00-12-34-56.ipxe', '52:54:00:12:34:56/boot.ipxe']) {
      const result = await invoke(handle, path);
      expect(result.body.toString(), path).toBe(WEB01);
      expect(result.tsize, path).toBe(Buffer.byteLength(WEB01));
    }
  });

  test('ipxe: the first line is the #!ipxe signature iPXE requires', async () => {
    const result = await invoke(handle, 'boot.ipxe');
    expect(result.body.subarray(0, 7).toString()).toBe('#!ipxe\n');
  });

  test('ipxe: boot.ipxe is answered by peer IP, and the lookup is logged', async () => {
    const result = await invoke(handle, { path: 'boot.ipxe', peer: { address: '10.0.0.7' } });
    expect(result.body.toString()).toBe(
      [
        '#!ipxe',
        '# tftpfn ipxe: db01.lab.example (matched by ip 10.0.0.7)',
        'echo tftpfn: booting db01.lab.example',
        'kernel http://10.0.0.1/images/fedora-40/vmlinuz initrd=initrd.img inst.ks=http://10.0.0.1/ks/db01.cfg',
        'initrd http://10.0.0.1/images/fedora-40/initrd.img',
        'boot',
        '',
      ].join('\n'),
    );
    expect(result.logs).toEqual([
      { level: 'info', obj: { mac: undefined, peer: '10.0.0.7', matchedBy: 'ip', key: '10.0.0.7', source: 'inventory' }, msg: 'ipxe script' },
    ]);
  });

  test('ipxe: an unknown machine gets the default script', async () => {
    const result = await invoke(handle, '01-aa-bb-cc-dd-ee-f0.ipxe');
    expect(result.body.toString()).toBe(
      [
        '#!ipxe',
        '# tftpfn ipxe: installer (matched by default)',
        'echo tftpfn: booting installer',
        'kernel http://10.0.0.1/images/debian-12/linux initrd=initrd.gz auto=true priority=critical url=http://10.0.0.1/preseed.cfg --- quiet',
        'initrd http://10.0.0.1/images/debian-12/initrd.gz',
        'boot',
        '',
      ].join('\n'),
    );
  });

  test('ipxe: names not ending in .ipxe are not found, and writes are refused', async () => {
    for (const path of ['ipxe.efi', 'undionly.kpxe', 'boot.ipxe.bak', 'boot.IPXE']) {
      const result = await invoke(handle, path);
      expect([path, result.errorCode]).toEqual([path, 1]);
    }
    const write = await invoke(handle, { path: 'boot.ipxe', kind: 'write' });
    expect([write.errorCode, write.errorMessage]).toEqual([2, 'access violation']);
  });
});

describe('ipxe: INVENTORY override file', () => {
  test('ipxe: an unknown machine with no default gets file not found', async () => {
    const env = await withInventory({ machines: { '10.0.0.9': { kernel: 'http://b/k' } } });
    const result = await invoke(handle, 'boot.ipxe', env);
    expect([result.errorCode, result.errorMessage]).toEqual([1, 'file not found']);
  });

  test('ipxe: several initrds each get their own line, no initrd gets none', async () => {
    const env = await withInventory({
      machines: {
        '10.0.0.9': { kernel: 'http://b/k', initrd: ['http://b/a.img', 'http://b/b.img'] },
        '10.0.0.10': { hostname: 'bare', kernel: 'tftp://10.0.0.1/k' },
      },
    });
    const two = await invoke(handle, { path: 'boot.ipxe', peer: { address: '10.0.0.9' } }, env);
    expect(two.body.toString()).toBe(
      '#!ipxe\n# tftpfn ipxe: 10.0.0.9 (matched by ip 10.0.0.9)\necho tftpfn: booting 10.0.0.9\nkernel http://b/k\ninitrd http://b/a.img\ninitrd http://b/b.img\nboot\n',
    );
    const none = await invoke(handle, { path: 'boot.ipxe', peer: { address: '10.0.0.10' } }, env);
    expect(none.body.toString()).toBe('#!ipxe\n# tftpfn ipxe: bare (matched by ip 10.0.0.10)\necho tftpfn: booting bare\nkernel tftp://10.0.0.1/k\nboot\n');
  });

  test('ipxe: values that would inject iPXE commands are refused and logged; the client gets ERROR 0', async () => {
    const cases: [unknown, string][] = [
      [{ kernel: 'http://b/k', cmdline: 'quiet || shell' }, 'default.cmdline word "||" is "||" (iPXE starts another command)'],
      [{ kernel: 'http://b/k', cmdline: 'a ; chain http://evil/x' }, 'default.cmdline word ";" is ";" (iPXE starts another command)'],
      [{ kernel: 'http://b/k', cmdline: 'token=${password}' }, 'default.cmdline word "token=${password}" contains "$" (iPXE expands ${...} settings)'],
      [{ kernel: 'http://b/k', cmdline: 'quiet \\' }, String.raw`default.cmdline word "\\" contains "\" (iPXE joins a line ending in "\" to the next)`],
      [{ kernel: 'http://b/k', cmdline: '#x' }, 'default.cmdline word "#x" starts with "#" (iPXE reads the rest of the line as a comment)'],
      [{ kernel: 'http://b/k boot', cmdline: 'x' }, 'default.kernel "http://b/k boot" contains whitespace'],
      [{ kernel: '--name=x', initrd: 'http://b/i' }, 'default.kernel "--name=x" starts with "-" (iPXE would read an option)'],
      [{ kernel: 'http://b/k', initrd: ['http://b/i', 'http://b/j && shell'] }, 'default.initrd[1] "http://b/j && shell" contains whitespace'],
      [{ kernel: 'http://b/k', cmdline: 'a\nshell' }, 'default.cmdline must not contain control characters or line breaks'],
    ];
    for (const [entry, reason] of cases) {
      const env = await withInventory({ default: entry });
      const result = await invoke(handle, 'boot.ipxe', env);
      expect([result.errorCode, result.errorMessage, result.size]).toEqual([0, 'internal error', 0]);
      expect(result.logs).toEqual([
        {
          level: 'error',
          obj: { inventory: env.vars.INVENTORY, reason: `inventory ${env.vars.INVENTORY}: ${reason}` },
          msg: 'inventory rejected',
        },
      ]);
    }
  });
});

describe('ipxe: ipxeTokenProblem', () => {
  test('ipxeTokenProblem: ordinary URLs and kernel arguments pass', () => {
    for (const token of ['http://10.0.0.1/k?a=1&b=2#frag', 'console=ttyS0,115200n8', '---', 'a&&b', 'x;y', 'ro']) {
      expect(ipxeTokenProblem(token), token).toBeUndefined();
    }
  });
});

/** env.kv over a Map holding the given entries as JSON. */
function kvWith(entries: Record<string, unknown>): KvBinding {
  const map = new Map<string, Uint8Array>();
  for (const [k, v] of Object.entries(entries)) map.set(k, Buffer.from(JSON.stringify(v)));
  return kvBinding({ get: async (k) => map.get(k), set: async (k, v) => void map.set(k, v), del: async (k) => void map.delete(k) });
}

describe('ipxe: machines in env.kv', () => {
  test('ipxe: machine:<mac> in env.kv renders exactly as the same entry from the inventory file', async () => {
    const kv = kvWith({ 'machine:52:54:00:12:34:56': bundled.machines['52:54:00:12:34:56'] });
    const result = await invoke(handle, '01-52-54-00-12-34-56.ipxe', { kv, ...(await withInventory({})) });
    expect(result.body.toString()).toBe(WEB01);
    expect((result.logs[0].obj as { source: string }).source).toBe('kv');
  });

  test('ipxe: boot.ipxe is answered from env.kv by IP, then machine:default, then the inventory file', async () => {
    const kv = kvWith({ 'machine:10.0.0.9': { hostname: 'kv-ip', kernel: 'http://x/k' }, 'machine:default': { hostname: 'kv-default', kernel: 'http://x/d' } });
    expect((await invoke(handle, { path: 'boot.ipxe', peer: { address: '10.0.0.9' } }, { kv })).body.toString()).toContain('echo tftpfn: booting kv-ip\n');
    expect((await invoke(handle, 'boot.ipxe', { kv })).body.toString()).toContain('echo tftpfn: booting kv-default\n');
    expect((await invoke(handle, 'boot.ipxe', { kv: kvWith({}) })).body.toString()).toContain('echo tftpfn: booting installer\n');
  });

  test('ipxe: an env.kv entry iPXE could not carry literally is refused with ERROR 0, as in a file', async () => {
    const kv = kvWith({ 'machine:default': { kernel: 'http://x/k', cmdline: 'console=${serial}' } });
    const result = await invoke(handle, 'boot.ipxe', { kv });
    expect([result.errorCode, result.errorMessage]).toEqual([0, 'internal error']);
    expect(result.logs).toEqual([
      {
        level: 'error',
        obj: { inventory: 'env.kv machine:default', reason: 'env.kv machine:default.cmdline word "console=${serial}" contains "$" (iPXE expands ${...} settings)' },
        msg: 'inventory rejected',
      },
    ]);
  });
});
