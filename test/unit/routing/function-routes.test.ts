import { describe, expect, it } from 'vitest';
import { FunctionRoutes } from '../../../gateway/src/routing/function-routes.js';
import { parseRouteTable, resolveRoute } from '../../../gateway/src/routing/routes.js';

describe('routing: routes a function version declares', () => {
  it('function routes: compiled in function-name order, labelled NAME@VERSION#i, and cached while the claims are the same', () => {
    const fr = new FunctionRoutes();
    const claims = [
      { function: 'menu', version: 'v2', routes: [{ match: 'menu/**', stripPrefix: true }] },
      { function: 'grub', version: 'v7', routes: [{ match: '**/grub.cfg-*' }, { match: 'grub/**' }] },
    ];
    const a = fr.compile(claims);
    expect(a.problems).toEqual([]);
    expect(a.routes.map((r) => r.index)).toEqual(['grub@v7#0', 'grub@v7#1', 'menu@v2#0']);
    expect(a.routes.map((r) => r.target)).toEqual([
      { kind: 'function', name: 'grub' },
      { kind: 'function', name: 'grub' },
      { kind: 'function', name: 'menu' },
    ]);
    // Same claims (in another order): the same compiled object, no work.
    expect(fr.compile([...claims].reverse())).toBe(a);
    // A new version of one function: compiled again.
    const b = fr.compile([{ ...claims[0], version: 'v3' }, claims[1]]);
    expect(b).not.toBe(a);
    expect(b.routes.map((r) => r.index)).toContain('menu@v3#0');
    // A version that declares none adds nothing.
    expect(fr.compile([{ function: 'x', version: '1', routes: [] }]).routes).toEqual([]);
  });

  it('function routes: a declaration that does not compile is skipped and named; the others stand', () => {
    const fr = new FunctionRoutes();
    const c = fr.compile([
      { function: 'bad', version: 'v1', routes: [{ match: 'boot.cfg', stripPrefix: true }] },
      { function: 'good', version: 'v1', routes: [{ match: 'good/**' }] },
    ]);
    expect(c.routes.map((r) => r.index)).toEqual(['good@v1#0']);
    expect(c.problems).toHaveLength(1);
    expect(c.problems[0]).toContain('function bad version v1: its routes are ignored');
    expect(c.problems[0]).toContain('stripPrefix');
  });

  it('function routes: a stripped prefix works as in a config route', () => {
    const c = new FunctionRoutes().compile([{ function: 'menu', version: 'v1', routes: [{ match: 'menu/**', stripPrefix: true }] }]);
    const table = { routes: [...parseRouteTable({ routes: [{ match: 'menu/fixed.cfg', folder: '/srv' }] }).routes, ...c.routes], fallback: undefined };
    // The config's own route comes first and wins its path; the function's route takes the rest.
    expect(resolveRoute(table, 'menu/fixed.cfg')?.route.target).toEqual({ kind: 'folder', folder: '/srv' });
    expect(resolveRoute(table, 'menu/a/b.cfg')).toMatchObject({ route: { target: { kind: 'function', name: 'menu' } }, rest: 'a/b.cfg' });
  });
});
