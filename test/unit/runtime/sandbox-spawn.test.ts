import { describe, expect, test } from 'vitest';
import { dataLimitKb, permissionFlag, probeNodeDataKb, sandboxCommand, type SandboxCommandSpec } from '../../../gateway/src/runtime/sandbox-spawn.js';

const base: SandboxCommandSpec = { sandboxDir: '/tmp/tftpfn-functions-1-abc', heapMb: 64, memoryMb: 448, user: undefined, network: 'lockdown-only' };

describe('sandbox command line', () => {
  test('the permission flag follows the Node version: experimental before 22.13, stable from 22.13 and 23.5', () => {
    expect(permissionFlag('20.20.2')).toBe('--experimental-permission');
    expect(permissionFlag('22.12.0')).toBe('--experimental-permission');
    expect(permissionFlag('v22.13.0')).toBe('--permission');
    expect(permissionFlag('23.4.0')).toBe('--experimental-permission');
    expect(permissionFlag('24.1.0')).toBe('--permission');
  });

  test('node gets reads of the sandbox folder only, no write/child/worker/addon grants, and the heap limit', () => {
    const c = sandboxCommand(base, '20.20.2', '/usr/bin/node');
    const node = c.args.slice(c.args.indexOf('/usr/bin/node'));
    expect(node).toEqual(['/usr/bin/node', '--experimental-permission', '--allow-fs-read=/tmp/tftpfn-functions-1-abc/', '--max-old-space-size=64', '--disable-warning=ExperimentalWarning', '/tmp/tftpfn-functions-1-abc/host.mjs']);
    expect(c.args.join(' ')).not.toMatch(/allow-fs-write|allow-child-process|allow-worker|allow-addons/);
  });

  test('allowRead paths become further read grants', () => {
    const c = sandboxCommand({ ...base, allowRead: ['/etc/tftpfn/inventory.json', '/srv/data/'] }, '24.1.0', '/usr/bin/node');
    expect(c.args).toContain('--allow-fs-read=/etc/tftpfn/inventory.json');
    expect(c.args).toContain('--allow-fs-read=/srv/data/');
    expect(c.args).toContain('--permission');
  });

  test('the data limit is set by the shell that then becomes node (KiB)', () => {
    const c = sandboxCommand(base, '20.20.2', '/usr/bin/node');
    expect(c.file).toBe('/bin/sh');
    expect(c.args.slice(0, 3)).toEqual(['-c', 'ulimit -d "$0" && exec "$@"', String(448 * 1024)]);
  });

  test('a Node that reserves more than a bare Node 20/22 (Node 24: ~560 MiB of untouched writable mappings) gets the surplus on top of memoryMb', () => {
    // Node 20/22: ~48 MiB, inside the 64 MiB that memoryMb already counts for Node itself.
    expect(dataLimitKb(448, 48_604)).toBe(448 * 1024);
    expect(dataLimitKb(448, 573_280)).toBe(448 * 1024 + 573_280 - 64 * 1024);
    const c = sandboxCommand({ ...base, nodeDataKb: 573_280 }, '24.22.3', '/usr/bin/node');
    expect(c.args[2]).toBe(String(448 * 1024 + 573_280 - 64 * 1024));
  });

  test('the probe reads a bare process of this node binary', () => {
    const kb = probeNodeDataKb();
    expect(kb).toBeGreaterThan(1024);
    expect(probeNodeDataKb()).toBe(kb);
  });

  test('as root with unshare: a new network namespace, and the user switched inside it', () => {
    const c = sandboxCommand({ ...base, user: { uid: 65534, gid: 65533 }, network: 'root-namespace', unsharePath: '/usr/bin/unshare' }, '20.20.2', '/usr/bin/node');
    expect(c.file).toBe('/usr/bin/unshare');
    expect(c.args.slice(0, 6)).toEqual(['--net', '-S', '65534', '-G', '65533', '--']);
    expect(c.uid).toBeUndefined();
  });

  test('without root: a user namespace for the network; without unshare: spawn switches the user', () => {
    const u = sandboxCommand({ ...base, network: 'user-namespace', unsharePath: '/usr/bin/unshare' });
    expect(u.args.slice(0, 4)).toEqual(['--user', '--map-current-user', '--net', '--']);
    const plain = sandboxCommand({ ...base, user: { uid: 65534, gid: 65534 } });
    expect(plain).toMatchObject({ file: '/bin/sh', uid: 65534, gid: 65534 });
  });
});
