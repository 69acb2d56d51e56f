import { mkdtemp, rename, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { invoke, kvBinding, type KvBinding } from 'tftpfn/sdk';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { grubQuote, handle } from './index.js';
import bundled from './inventory.json' with { type: 'json' };

const WEB01 = [
  '# tftpfn grub: web01.lab.example (matched by mac 52:54:00:12:34:56)',
  'set default=0',
  'set timeout=0',
  "menuentry 'web01.lab.example' {",
  "\tlinux '(tftp)/images/fedora-40/vmlinuz' 'inst.ks=http://10.0.0.1/ks/web01.cfg' 'ip=dhcp'",
  "\tinitrd '(tftp)/images/fedora-40/initrd.img'",
  '}',
  '',
].join('\n');

const DEFAULT = [
  '# tftpfn grub: installer (matched by default)',
  'set default=0',
  'set timeout=5',
  "menuentry 'installer' {",
  "\tlinux '(tftp)/images/debian-12/linux' 'auto=true' 'priority=critical' 'url=http://10.0.0.1/preseed.cfg' '---' 'quiet'",
  "\tinitrd '(tftp)/images/debian-12/initrd.gz'",
  '}',
  '',
].join('\n');

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tftpfn-grub-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function writeInventory(name: string, inventory: unknown): Promise<string> {
  const file = join(dir, name);
  await writeFile(file, typeof inventory === 'string' ? inventory : JSON.stringify(inventory));
  return file;
}

describe('grub: bundled inventory', () => {
  test('grub: a machine known by MAC gets its entry from the pxelinux-style name', async () => {
    const result = await invoke(handle, '/grub/grub.cfg-01-52-54-00-12-34-56');
    expect(result.errorCode).toBeUndefined();
    expect(result.body.toString()).toBe(WEB01);
    expect(result.tsize).toBe(Buffer.byteLength(WEB01));
    expect(result.logs).toEqual([
      {
        level: 'info',
        obj: { mac: '52:54:00:12:34:56', peer: '192.0.2.10', matchedBy: 'mac', key: '52:54:00:12:34:56', source: 'inventory' },
        msg: 'grub config',
      },
    ]);
  });

  test('grub: the net_default_mac colon form and the bare dash form name the same machine', async () => {
    for (const path of ['grub.cfg-52:54:00:12:34:56', 'boot/grub/grub.cfg-52-54-00-12-34-56']) {
      const result = await invoke(handle, path);
      expect(result.body.toString(), path).toBe(WEB01);
    }
  });

  test('grub: a handover written as grub.cfg-01-$net_default_mac ("01-" and colons) names the machine, not a function error', async () => {
    const result = await invoke(handle, '/grub/grub.cfg-01-52:54:00:12:34:56');
    expect(result.errorCode).toBeUndefined();
    expect(result.body.toString()).toBe(WEB01);
  });

  test('grub: a MAC folder ("52-54-00-12-34-56/grub.cfg") is read through request.mac', async () => {
    const result = await invoke(handle, '52-54-00-12-34-56/grub.cfg');
    expect(result.body.toString()).toBe(WEB01);
  });

  test('grub: an unknown MAC falls back to the peer IP, then to the default', async () => {
    const byIp = await invoke(handle, { path: 'grub.cfg-01-aa-bb-cc-dd-ee-f0', peer: { address: '10.0.0.7' } });
    expect(byIp.body.toString()).toBe(
      [
        '# tftpfn grub: db01.lab.example (matched by ip 10.0.0.7)',
        'set default=0',
        'set timeout=5',
        "menuentry 'db01.lab.example' {",
        "\tlinux '(tftp)/images/fedora-40/vmlinuz' 'inst.ks=http://10.0.0.1/ks/db01.cfg'",
        "\tinitrd '(tftp)/images/fedora-40/initrd.img'",
        '}',
        '',
      ].join('\n'),
    );
    const byDefault = await invoke(handle, 'grub.cfg-01-aa-bb-cc-dd-ee-f0');
    expect(byDefault.body.toString()).toBe(DEFAULT);
  });

  test('grub: the IP-in-hex names GRUB probes, and plain grub.cfg, are answered by peer IP', async () => {
    for (const path of ['grub.cfg-0A000007', 'grub.cfg-0A00', 'grub.cfg', 'grub/grub.cfg']) {
      const result = await invoke(handle, { path, peer: { address: '10.0.0.7' } });
      expect(result.body.toString(), path).toContain("menuentry 'db01.lab.example' {\n");
    }
  });

  test('grub: an IPv4 client seen on a dual-stack socket matches its IPv4 key', async () => {
    const result = await invoke(handle, { path: 'grub.cfg', peer: { address: '::ffff:10.0.0.7' } });
    expect(result.body.toString()).toContain('(matched by ip 10.0.0.7)\n');
  });

  test('grub: paths that are not a grub.cfg are not found', async () => {
    for (const path of ['grubx64.efi', 'grub/x86_64-efi/normal.mod', 'grub.cfg.bak', 'grub.cfg-nonsense', 'xgrub.cfg']) {
      const result = await invoke(handle, path);
      expect([path, result.errorCode, result.errorMessage]).toEqual([path, 1, 'file not found']);
    }
  });

  test('grub: a write request is refused', async () => {
    const result = await invoke(handle, { path: 'grub.cfg', kind: 'write' });
    expect([result.errorCode, result.errorMessage]).toEqual([2, 'access violation']);
  });
});

describe('grub: INVENTORY override file', () => {
  test('grub: an unknown machine with no default gets file not found', async () => {
    const file = await writeInventory('no-default.json', { machines: { '10.0.0.9': { kernel: '/k' } } });
    const result = await invoke(handle, 'grub.cfg-01-aa-bb-cc-dd-ee-f0', { vars: { INVENTORY: file } });
    expect([result.errorCode, result.errorMessage]).toEqual([1, 'file not found']);
  });

  test('grub: a minimal entry renders with the default timeout and no initrd line', async () => {
    const file = await writeInventory('minimal.json', { machines: { '10.0.0.9': { kernel: '/boot/vmlinuz' } } });
    const result = await invoke(handle, { path: 'grub.cfg', peer: { address: '10.0.0.9' } }, { vars: { INVENTORY: file } });
    expect(result.body.toString()).toBe(
      "# tftpfn grub: 10.0.0.9 (matched by ip 10.0.0.9)\nset default=0\nset timeout=5\nmenuentry '10.0.0.9' {\n\tlinux '/boot/vmlinuz'\n}\n",
    );
  });

  test('grub: a changed file is picked up on the next request, without a redeploy', async () => {
    const file = join(dir, 'changing.json');
    const version = async (kernel: string) => {
      // Written beside and renamed, as an operator's tooling should: a reader never sees half a file.
      await writeInventory('changing.tmp', { default: { kernel } });
      await rename(join(dir, 'changing.tmp'), file);
    };
    await version('/v1/vmlinuz');
    const first = await invoke(handle, 'grub.cfg', { vars: { INVENTORY: file } });
    expect(first.body.toString()).toContain("\tlinux '/v1/vmlinuz'\n");
    await version('/v2/vmlinuz');
    const second = await invoke(handle, 'grub.cfg', { vars: { INVENTORY: file } });
    expect(second.body.toString()).toContain("\tlinux '/v2/vmlinuz'\n");
  });

  test('grub: an unchanged file is not parsed again (same inode, size and mtime)', async () => {
    const file = await writeInventory('cached.json', { default: { kernel: '/aaaa' } });
    const stamp = new Date('2024-01-01T00:00:00Z');
    await utimes(file, stamp, stamp);
    expect((await invoke(handle, 'grub.cfg', { vars: { INVENTORY: file } })).body.toString()).toContain("'/aaaa'");
    // Rewritten in place to the same size with the old mtime put back: only a re-read could tell.
    await writeFile(file, JSON.stringify({ default: { kernel: '/bbbb' } }));
    await utimes(file, stamp, stamp);
    expect((await invoke(handle, 'grub.cfg', { vars: { INVENTORY: file } })).body.toString()).toContain("'/aaaa'");
  });

  test('grub: quoting keeps hostile inventory values inside their word', async () => {
    const file = await writeInventory('hostile.json', {
      default: {
        kernel: "/k'; insmod evil; echo '",
        initrd: ['$prefix/initrd', '`x`'],
        cmdline: "a'b ${root} c;d }",
      },
    });
    const result = await invoke(handle, 'grub.cfg', { vars: { INVENTORY: file } });
    expect(result.body.toString()).toBe(
      [
        '# tftpfn grub: default (matched by default)',
        'set default=0',
        'set timeout=5',
        "menuentry 'default' {",
        "\tlinux '/k'\\''; insmod evil; echo '\\''' 'a'\\''b' '${root}' 'c;d' '}'",
        "\tinitrd '$prefix/initrd' '`x`'",
        '}',
        '',
      ].join('\n'),
    );
  });

  test('grub: a line break in a value is refused, logged, and the client gets ERROR 0', async () => {
    const file = await writeInventory('newline.json', { default: { kernel: '/k', cmdline: 'quiet\n}\nmenuentry evil {' } });
    const result = await invoke(handle, 'grub.cfg', { vars: { INVENTORY: file } });
    expect([result.errorCode, result.errorMessage, result.size]).toEqual([0, 'internal error', 0]);
    expect(result.logs).toEqual([
      {
        level: 'error',
        obj: { inventory: file, reason: `inventory ${file}: default.cmdline must not contain control characters or line breaks` },
        msg: 'inventory rejected',
      },
    ]);
  });

  test('grub: a file that is not JSON, or missing, is an error naming the file', async () => {
    const broken = await writeInventory('broken.json', '{ "default": ');
    const bad = await invoke(handle, 'grub.cfg', { vars: { INVENTORY: broken } });
    expect(bad.errorCode).toBe(0);
    expect((bad.logs[0].obj as { reason: string }).reason).toMatch(new RegExp(`^inventory ${broken}: not valid JSON \\(`));
    const missing = join(dir, 'missing.json');
    const gone = await invoke(handle, 'grub.cfg', { vars: { INVENTORY: missing } });
    expect(gone.errorCode).toBe(0);
    expect(gone.logs[0].obj).toEqual({ inventory: missing, reason: `inventory ${missing}: cannot open (ENOENT)` });
  });
});

describe('grub: grubQuote', () => {
  test('grubQuote: wraps in single quotes and splices single quotes as sh does', () => {
    expect(grubQuote('')).toBe("''");
    expect(grubQuote('plain')).toBe("'plain'");
    expect(grubQuote("it's")).toBe("'it'\\''s'");
    expect(grubQuote('$x "y" \\z')).toBe('\'$x "y" \\z\'');
  });
});

/** env.kv over a Map, holding the given machine entries as JSON (strings as they are). */
function kvWith(entries: Record<string, unknown>): { kv: KvBinding; map: Map<string, Uint8Array> } {
  const map = new Map<string, Uint8Array>();
  for (const [k, v] of Object.entries(entries)) map.set(k, Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)));
  const kv = kvBinding({ get: async (k) => map.get(k), set: async (k, v) => void map.set(k, v), del: async (k) => void map.delete(k) });
  return { kv, map };
}

describe('grub: machines in env.kv', () => {
  const web01 = bundled.machines['52:54:00:12:34:56'];

  test('grub: machine:<mac> in env.kv renders exactly as the same entry from the inventory file', async () => {
    // An empty bundled-inventory stand-in, so only the store can answer.
    const { kv } = kvWith({ 'machine:52:54:00:12:34:56': web01 });
    const file = await writeInventory('empty-kv.json', {});
    const result = await invoke(handle, 'grub.cfg-01-52-54-00-12-34-56', { kv, vars: { INVENTORY: file } });
    expect(result.body.toString()).toBe(WEB01);
    expect(result.logs).toEqual([
      {
        level: 'info',
        obj: { mac: '52:54:00:12:34:56', peer: '192.0.2.10', matchedBy: 'mac', key: '52:54:00:12:34:56', source: 'kv' },
        msg: 'grub config',
      },
    ]);
  });

  test('grub: env.kv is looked up by MAC, then by IP, then machine:default', async () => {
    const { kv, map } = kvWith({
      'machine:aa:bb:cc:dd:ee:f0': { hostname: 'by-mac', kernel: '/mac' },
      'machine:10.0.0.9': { hostname: 'by-ip', kernel: '/ip' },
      'machine:2001:db8::9': { hostname: 'by-ip6', kernel: '/ip6' },
      'machine:default': { hostname: 'by-default', kernel: '/default' },
    });
    const title = async (path: string, address = '192.0.2.10') =>
      /^# tftpfn grub: (.*)$/m.exec((await invoke(handle, { path, peer: { address } }, { kv })).body.toString())?.[1];
    expect(await title('grub.cfg-01-aa-bb-cc-dd-ee-f0', '10.0.0.9')).toBe('by-mac (matched by mac aa:bb:cc:dd:ee:f0)');
    expect(await title('grub.cfg-AA:BB:CC:DD:EE:F0')).toBe('by-mac (matched by mac aa:bb:cc:dd:ee:f0)');
    expect(await title('grub.cfg', '10.0.0.9')).toBe('by-ip (matched by ip 10.0.0.9)');
    expect(await title('grub.cfg', '::ffff:10.0.0.9')).toBe('by-ip (matched by ip 10.0.0.9)');
    // The peer's IPv6 address is looked up in canonical form.
    expect(await title('grub.cfg', '2001:DB8:0::9')).toBe('by-ip6 (matched by ip 2001:db8::9)');
    expect(await title('grub.cfg-01-aa-bb-cc-dd-ee-f1')).toBe('by-default (matched by default)');
    map.delete('machine:default');
    // Nothing in the store for this one: the bundled inventory's default answers.
    expect(await title('grub.cfg-01-aa-bb-cc-dd-ee-f1')).toBe('installer (matched by default)');
  });

  test('grub: an entry in env.kv wins over the inventory file, and a change is seen on the next request', async () => {
    const { kv } = kvWith({ 'machine:52:54:00:12:34:56': { ...web01, kernel: '(tftp)/images/fedora-41/vmlinuz' } });
    const first = await invoke(handle, 'grub.cfg-01-52-54-00-12-34-56', { kv });
    expect(first.body.toString()).toContain("\tlinux '(tftp)/images/fedora-41/vmlinuz' ");
    await kv.set('machine:52:54:00:12:34:56', { ...web01, kernel: '(tftp)/images/fedora-42/vmlinuz' });
    const second = await invoke(handle, 'grub.cfg-01-52-54-00-12-34-56', { kv });
    expect(second.body.toString()).toContain("\tlinux '(tftp)/images/fedora-42/vmlinuz' ");
  });

  test('grub: an empty store falls back to the inventory file, whatever it is', async () => {
    const { kv } = kvWith({});
    expect((await invoke(handle, 'grub.cfg-01-52-54-00-12-34-56', { kv })).body.toString()).toBe(WEB01);
    const file = await writeInventory('fallback.json', { default: { kernel: '/from-file' } });
    const result = await invoke(handle, 'grub.cfg', { kv, vars: { INVENTORY: file } });
    expect(result.body.toString()).toContain("\tlinux '/from-file'\n");
    expect((result.logs[0].obj as { source: string }).source).toBe('inventory');
  });

  test('grub: a value in env.kv that is not a valid entry is logged and the client gets ERROR 0', async () => {
    const cases: [unknown, string][] = [
      ['{ "kernel": ', 'env.kv machine:default: not valid JSON ('],
      [{ kernal: '/k' }, 'env.kv machine:default: unknown field "kernal" (expected hostname, kernel, initrd, cmdline, menuTimeout)'],
      [{ kernel: '/k', cmdline: 'quiet\n}' }, 'env.kv machine:default.cmdline must not contain control characters or line breaks'],
      [['/k'], 'env.kv machine:default must be an object with at least "kernel"'],
    ];
    for (const [value, reason] of cases) {
      const { kv } = kvWith({ 'machine:default': value });
      const result = await invoke(handle, 'grub.cfg', { kv });
      expect([result.errorCode, result.errorMessage, result.size]).toEqual([0, 'internal error', 0]);
      expect(result.logs).toHaveLength(1);
      expect(result.logs[0]).toMatchObject({ level: 'error', obj: { inventory: 'env.kv machine:default' }, msg: 'inventory rejected' });
      expect((result.logs[0].obj as { reason: string }).reason.startsWith(reason), String(reason)).toBe(true);
    }
  });
});
