import { describe, expect, it } from 'vitest';
import { parseRouteTable, resolveRoute, RouteConfigError, type RoutingConfigInput } from '../../../gateway/src/routing/routes.js';

function problemsOf(input: unknown): readonly string[] {
  try {
    parseRouteTable(input);
  } catch (e) {
    expect(e).toBeInstanceOf(RouteConfigError);
    return (e as RouteConfigError).problems;
  }
  throw new Error(`expected ${JSON.stringify(input)} to be refused`);
}

const config: RoutingConfigInput = {
  routes: [
    { match: 'pxelinux.cfg/*', function: 'pxe', stripPrefix: true },
    { match: 'grub/**/grub.cfg', function: 'grub' },
    { match: 'tftpboot/images/**', folder: '/srv/images', stripPrefix: 'tftpboot' },
    { match: '**/*.efi', folder: '/srv/efi' },
    { match: 'pxelinux.cfg/default', function: 'never-reached' },
  ],
  default: { folder: '/srv/tftp' },
};

describe('resolveRoute', () => {
  const table = parseRouteTable(config);

  it('routes: the first matching route wins, even when a later one is more specific', () => {
    const r = resolveRoute(table, 'pxelinux.cfg/default');
    expect(r?.route.index).toBe(0);
    expect(r?.route.target).toEqual({ kind: 'function', name: 'pxe' });
  });

  it('routes: stripPrefix true removes the glob\'s fixed leading segments', () => {
    expect(resolveRoute(table, 'pxelinux.cfg/01-aa-bb-cc-dd-ee-ff')?.rest).toBe('01-aa-bb-cc-dd-ee-ff');
  });

  it('routes: stripPrefix as a string removes just that leading part', () => {
    const r = resolveRoute(table, 'tftpboot/images/x/vmlinuz');
    expect(r?.route.target).toEqual({ kind: 'folder', folder: '/srv/images' });
    expect(r?.rest).toBe('images/x/vmlinuz');
  });

  it('routes: without stripPrefix the rest is the whole normalised path', () => {
    expect(resolveRoute(table, 'grub/x86/grub.cfg')).toMatchObject({ route: { index: 1 }, rest: 'grub/x86/grub.cfg' });
    expect(resolveRoute(table, 'efi/boot/bootx64.efi')).toMatchObject({ route: { index: 3 }, rest: 'efi/boot/bootx64.efi' });
  });

  it('routes: a path no route matches goes to the default, unchanged', () => {
    const r = resolveRoute(table, 'pxelinux.0');
    expect(r?.route.index).toBe('default');
    expect(r?.route.target).toEqual({ kind: 'folder', folder: '/srv/tftp' });
    expect(r?.rest).toBe('pxelinux.0');
  });

  it('routes: with no default, an unmatched path resolves to nothing', () => {
    const bare = parseRouteTable({ routes: [{ match: 'a/*', function: 'f' }] });
    expect(resolveRoute(bare, 'b/c')).toBeUndefined();
    expect(resolveRoute(parseRouteTable({}), 'x')).toBeUndefined();
  });

  it('routes: a default may name a function', () => {
    const t = parseRouteTable({ default: { function: 'hello' } });
    expect(resolveRoute(t, 'any/thing')?.route.target).toEqual({ kind: 'function', name: 'hello' });
  });

  it('routes: the compiled table is frozen', () => {
    expect(Object.isFrozen(table)).toBe(true);
    expect(Object.isFrozen(table.routes)).toBe(true);
  });
});

describe('parseRouteTable errors', () => {
  it('config: both function and folder names the route and the fix', () => {
    expect(problemsOf({ routes: [{ match: 'a', function: 'f' }, { match: 'b', folder: 'x' }, { match: 'c', function: 'f', folder: 'd' }] })).toEqual([
      'routes[2]: give one of "function", "folder" or "bucket", not "function" and "folder"',
    ]);
  });

  it('config: neither function nor folder says what to give', () => {
    expect(problemsOf({ routes: [{ match: 'a' }] })[0]).toMatch(/^routes\[0\]: give "function" .*, "folder" .* or "bucket"/);
    expect(problemsOf({ default: {} })[0]).toMatch(/^default: give "function"/);
  });

  it('config: a bucket prefix without a trailing "/" is refused, naming the field and the fix (it would reach sibling keys)', () => {
    expect(problemsOf({ routes: [{ match: 'img2/**', bucket: 'boot', prefix: 'tftp', stripPrefix: true }] })).toEqual([
      'routes[0].prefix: "tftp" does not end with "/", so the route would also reach sibling keys such as "tftp-private/...": write "tftp/"',
    ]);
    expect(problemsOf({ default: { bucket: 'boot', prefix: 'a/b' } })[0]).toMatch(/^default\.prefix: "a\/b" does not end with "\/".*write "a\/b\/"$/);
    // A folder prefix, or none, is fine; the key is prefix + the rest of the path.
    const t = parseRouteTable({ routes: [{ match: 'img2/**', bucket: 'boot', prefix: 'tftp/', stripPrefix: true }, { match: 'all/**', bucket: 'boot', prefix: '', stripPrefix: true }] });
    expect(t.routes[0].target).toEqual({ kind: 'bucket', bucket: 'boot', prefix: 'tftp/' });
    expect(resolveRoute(t, 'img2/-private/keys.txt')?.rest).toBe('-private/keys.txt');
    expect(t.routes[1].target).toEqual({ kind: 'bucket', bucket: 'boot', prefix: '' });
  });

  it('config: a bad glob names the route and field', () => {
    expect(problemsOf({ routes: [{ match: '/boot/*', folder: 'x' }] })[0]).toMatch(/^routes\[0\]\.match: glob "\/boot\/\*": .*remove it/);
  });

  it('config: stripPrefix on a literal pattern or one starting with a wildcard is refused', () => {
    expect(problemsOf({ routes: [{ match: 'grub.cfg', function: 'g', stripPrefix: true }] })[0]).toMatch(/^routes\[0\]\.stripPrefix: .*no wildcard/);
    expect(problemsOf({ routes: [{ match: '*/x', function: 'g', stripPrefix: true }] })[0]).toMatch(/starts with a wildcard/);
  });

  it('config: a stripPrefix string must be a whole leading segment of the pattern', () => {
    const [p] = problemsOf({ routes: [{ match: 'tftpboot/*', function: 'g', stripPrefix: 'tftp' }] });
    expect(p).toBe('routes[0].stripPrefix: "tftp" is not a leading whole-segment part of "tftpboot/*"; use true (strips "tftpboot") or a leading part of it');
  });

  it('config: wrong types and unknown fields are named by path', () => {
    expect(problemsOf({ routes: [{ match: 7, function: 'f' }] })[0]).toMatch(/^routes\[0\]\.match: give a glob/);
    expect(problemsOf({ routes: [{ match: 'a', function: 'f', stripPrefix: 3 }] })[0]).toMatch(/^routes\[0\]\.stripPrefix: use true, false/);
    expect(problemsOf({ routes: [{ match: 'a', function: 'f', fn: 'x' }] })[0]).toMatch(/^routes\[0\]/);
    expect(problemsOf({ routes: [{ match: 'a', function: '' }] })[0]).toBe('routes[0].function: must not be empty');
  });

  it('config: every problem is reported at once', () => {
    expect(problemsOf({ routes: [{ match: 'a' }, { match: '[x', folder: 'f' }], default: { function: 'a', folder: 'b' } })).toHaveLength(3);
  });
});
