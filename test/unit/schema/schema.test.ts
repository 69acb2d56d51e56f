/**
 * The gateway's own schemas (gateway/src/schema), which replaced zod for the config, the route
 * table and deploy manifests: the parse rules those callers rely on, one at a time.
 */
import { describe, expect, it } from 'vitest';
import * as s from '../../../gateway/src/schema/index.js';

const issuesOf = (schema: s.AnySchema, input: unknown) => {
  const r = schema.safeParse(input);
  if (r.success) throw new Error(`expected issues, parsed ${JSON.stringify(r.data)}`);
  return r.error.issues.map((i) => ({ code: i.code, path: i.path, message: i.message, ...(i.code === 'unrecognized_keys' ? { keys: i.keys } : {}) }));
};

describe('schema: scalars', () => {
  it('a wrong type names what came; the error option replaces the text, fixed or built from the input', () => {
    expect(issuesOf(s.string(), 5)).toEqual([{ code: 'invalid_type', path: [], message: 'expected text, got 5' }]);
    expect(issuesOf(s.number(), 'x')[0].message).toBe('expected a number, got the string "x"');
    expect(issuesOf(s.number(), Number.NaN)[0].message).toBe('expected a number, got NaN');
    expect(issuesOf(s.number(), Number.POSITIVE_INFINITY)[0].code).toBe('invalid_type');
    expect(issuesOf(s.boolean(), null)[0].message).toBe('expected true or false, got null');
    expect(issuesOf(s.string({ error: 'give a glob' }), []).map((i) => i.message)).toEqual(['give a glob']);
    expect(issuesOf(s.string({ error: (iss) => `no: ${String(iss.input)}` }), 7)[0].message).toBe('no: 7');
  });

  it('checks run in order and stop at the first failure: one line per field, not one per check', () => {
    const n = s.number().int('whole, 1 to 9').min(1, 'whole, 1 to 9').max(9, 'whole, 1 to 9');
    expect(issuesOf(n, 0.5)).toEqual([{ code: 'invalid_value', path: [], message: 'whole, 1 to 9' }]);
    expect(issuesOf(n, 10)).toHaveLength(1);
    expect(n.parse(9)).toBe(9);
    const t = s.string().min(1).regex(/^\//, 'absolute');
    expect(issuesOf(t, '')[0].message).toBe('must not be empty');
    expect(issuesOf(t, 'rel')[0].message).toBe('absolute');
    expect(issuesOf(s.string().min(3), 'ab')[0].message).toBe('use at least 3 characters');
  });

  it('a check returns a new schema: the one it was made from is unchanged (field types are shared)', () => {
    const base = s.string();
    const strict = base.min(5, 'five');
    expect(base.parse('ab')).toBe('ab');
    expect(issuesOf(strict, 'ab')[0].message).toBe('five');
    const refined = base.refine((v) => v !== 'no', 'not "no"');
    expect(base.parse('no')).toBe('no');
    expect(issuesOf(refined, 'no')[0]).toEqual({ code: 'custom', path: [], message: 'not "no"' });
  });

  it('enum, url, union and unknown', () => {
    const level = s.enum(['warn', 'info']);
    expect(level.parse('warn')).toBe('warn');
    expect(issuesOf(level, 'loud')[0].message).toBe('use one of "warn", "info"; got the string "loud"');
    expect(issuesOf(s.enum(['a'], { error: 'use "a"' }), 5)[0].message).toBe('use "a"');
    expect(s.url().parse('http://127.0.0.1:9000')).toBe('http://127.0.0.1:9000');
    expect(issuesOf(s.url({ error: 'give a URL' }), 'not a url')[0].message).toBe('give a URL');
    const strip = s.union([s.boolean(), s.string()], { error: 'true, false or a path' });
    expect(strip.parse(true)).toBe(true);
    expect(strip.parse('boot')).toBe('boot');
    expect(issuesOf(strip, 5)).toEqual([{ code: 'invalid_type', path: [], message: 'true, false or a path' }]);
    expect(s.unknown().parse({ any: 1 })).toEqual({ any: 1 });
  });
});

describe('schema: wrappers', () => {
  it('optional leaves undefined alone; default fills it with a fresh copy each time', () => {
    expect(s.string().optional().parse(undefined)).toBeUndefined();
    expect(issuesOf(s.string().optional(), 5)[0].message).toBe('expected text, got 5');
    const list = s.array(s.string()).default(['a']);
    const one = list.parse(undefined);
    const two = list.parse(undefined);
    expect(one).toEqual(['a']);
    expect(one).not.toBe(two);
    one.push('b');
    expect(list.parse(undefined)).toEqual(['a']);
    expect(s.record(s.string(), s.string()).default({}).parse(undefined)).toEqual({});
  });

  it('preprocess turns text into the value the inner schema checks; base() sees through every wrapper', () => {
    const int = s.preprocess((v) => (typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v), s.number().int());
    expect(int.parse('42')).toBe(42);
    expect(issuesOf(int, 'x')[0].message).toBe('expected a number, got the string "x"');
    const field = int.default(3);
    expect(field.parse(undefined)).toBe(3);
    expect(field.base()).toBeInstanceOf(s.NumberSchema);
    expect(field.unwrap()).toBe(int);
    expect(s.object({ a: s.string() }).optional().base()).toBeInstanceOf(s.ObjectSchema);
  });

  it('pipe: the second schema checks what the first produced, only when the first found nothing', () => {
    const json = s.number({ error: 'a JSON number' }).pipe(s.number().max(5, 'at most 5'));
    expect(json.parse(4)).toBe(4);
    expect(issuesOf(json, '4').map((i) => i.message)).toEqual(['a JSON number']);
    expect(issuesOf(json, 6).map((i) => i.message)).toEqual(['at most 5']);
  });
});

describe('schema: objects, lists and records', () => {
  const point = s.object({ x: s.number(), y: s.number().optional(), tag: s.string().default('p') });

  it('objects: field issues in shape order, then one unrecognized_keys issue naming every unknown key', () => {
    expect(issuesOf(point, { tag: 5, x: 'a', zz: 1, q: 2 })).toEqual([
      { code: 'invalid_type', path: ['x'], message: 'expected a number, got the string "a"' },
      { code: 'invalid_type', path: ['tag'], message: 'expected text, got 5' },
      { code: 'unrecognized_keys', path: [], message: 'unknown key "zz", "q"', keys: ['zz', 'q'] },
    ]);
    expect(issuesOf(point, [])[0].message).toBe('expected an object, got a list');
    expect(issuesOf(point, null)[0].message).toBe('expected an object, got null');
  });

  it('objects: an absent optional key stays absent, a default is filled, and inherited names are not fields', () => {
    const parsed = point.parse({ x: 1 });
    expect(parsed).toEqual({ x: 1, tag: 'p' });
    expect(Object.hasOwn(parsed, 'y')).toBe(false);
    expect(issuesOf(point, { x: 1, constructor: 1 })[0]).toMatchObject({ code: 'unrecognized_keys', keys: ['constructor'] });
    expect(issuesOf(s.object({}), JSON.parse('{"__proto__": {"x": 1}}'))[0]).toMatchObject({ keys: ['__proto__'] });
  });

  it('refinements run only on a value that parsed cleanly, with paths relative to it', () => {
    let calls = 0;
    const range = s.object({ lo: s.number(), hi: s.number() }).superRefine((r, ctx) => {
      calls++;
      if (r.lo > r.hi) ctx.addIssue({ code: 'custom', path: ['lo'], message: 'lo must not pass hi' });
    });
    const wrapped = s.object({ range });
    expect(issuesOf(wrapped, { range: { lo: 5, hi: 1 } })).toEqual([{ code: 'custom', path: ['range', 'lo'], message: 'lo must not pass hi' }]);
    expect(calls).toBe(1);
    expect(issuesOf(wrapped, { range: { lo: 'x', hi: 1 } }).map((i) => i.path)).toEqual([['range', 'lo']]);
    expect(calls).toBe(1);
  });

  it('lists: each element at its index; the error option names a wrong type', () => {
    expect(s.array(s.number()).parse([1, 2])).toEqual([1, 2]);
    expect(issuesOf(s.array(s.number()), [1, 'b', 'c']).map((i) => i.path)).toEqual([[1], [2]]);
    expect(issuesOf(s.array(s.number(), { error: 'give a list of numbers' }), 5)[0].message).toBe('give a list of numbers');
    expect(issuesOf(s.array(s.number()), 'x')[0].message).toBe('expected a list, got the string "x"');
  });

  it('records: a refused name is an issue at that name with the name rule\'s message; a value is checked at its name', () => {
    const vars = s.record(s.string().regex(/^[A-Z_]+$/, 'names are capitals and _'), s.string());
    expect(vars.parse({ A: 'x', B_C: 'y' })).toEqual({ A: 'x', B_C: 'y' });
    expect(issuesOf(vars, { 'bad-name': 'x', OK: 5 })).toEqual([
      { code: 'invalid_value', path: ['bad-name'], message: 'names are capitals and _' },
      { code: 'invalid_type', path: ['OK'], message: 'expected text, got 5' },
    ]);
    expect(issuesOf(vars, 'x')[0].message).toBe('expected an object, got the string "x"');
  });

  it('records: a "__proto__" name from JSON is kept as an own entry, never as the prototype', () => {
    const vars = s.record(s.string(), s.string());
    const parsed = vars.parse(JSON.parse('{"__proto__": "x", "A": "y"}')) as Record<string, string>;
    expect(Object.getPrototypeOf(parsed)).toBe(Object.prototype);
    expect(Object.keys(parsed)).toEqual(['__proto__', 'A']);
    expect(Object.getOwnPropertyDescriptor(parsed, '__proto__')?.value).toBe('x');
  });

  it('parse throws with every issue; safeParse returns them', () => {
    expect(() => point.parse({})).toThrow('x: expected a number, got undefined');
    const r = point.safeParse({ x: 2 });
    expect(r).toEqual({ success: true, data: { x: 2, tag: 'p' } });
  });
});
