import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compileGlob } from '../../../gateway/src/routing/glob.js';
import { compilePosixEre } from '../../../gateway/src/routing/posix-regex.js';
import { applyRemap, parseRemap } from '../../../gateway/src/routing/remap.js';
import { testSeed } from '../../helpers/seeded.js';

// fast-check prints the seed of a failing run; TFTPFN_TEST_SEED replays it.
const seed = testSeed(0x7f7f);

// Regex metacharacters and ordinary ones, but no glob syntax (* ? [ \) and no '/'.
const segmentChar = fc.constantFrom(...'ab.+()^$|{}-,=~!#%&'.split(''));
const segment = fc.string({ unit: segmentChar, minLength: 1, maxLength: 6 }).filter((s) => s !== '.' && s !== '..');
const path = fc.array(segment, { minLength: 1, maxLength: 4 }).map((s) => s.join('/'));

describe('routing properties', () => {
  it('glob property: a pattern without wildcards matches exactly itself', () => {
    fc.assert(
      fc.property(path, path, (p, other) => {
        const g = compileGlob(p);
        expect(g.isLiteral).toBe(true);
        expect(g.matches(p)).toBe(true);
        expect(g.matches(other)).toBe(other === p);
      }),
      { seed, numRuns: 500 },
    );
  });

  it('glob property: "*" replacing one segment matches any one segment and never two', () => {
    fc.assert(
      fc.property(path, segment, segment, (p, a, b) => {
        const g = compileGlob(`${p}/*`);
        expect(g.matches(`${p}/${a}`)).toBe(true);
        expect(g.matches(`${p}/${a}/${b}`)).toBe(false);
        expect(compileGlob(`${p}/**`).matches(`${p}/${a}/${b}`)).toBe(true);
      }),
      { seed, numRuns: 300 },
    );
  });

  it('posix property: a fully escaped string matches exactly itself', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 20 }), (s) => {
        // Escape every non-alphanumeric character, the portable way to write a literal in ERE,
        // except < > ` ' whose escapes are GNU anchors (and which are literal unescaped).
        const ere = `^${[...s].map((c) => (/[0-9A-Za-z<>`']/.test(c) ? c : `\\${c}`)).join('')}$`;
        expect(compilePosixEre(ere).test(s)).toBe(true);
      }),
      { seed, numRuns: 500 },
    );
  });

  it('remap property: any filename ends in a name or a refusal, never an exception', () => {
    const rules = parseRemap(['a \\.key$', 'r ^/tftpboot/', 'rg \\\\ /', 'ri ^(pxelinux\\.cfg/.*)$ \\L\\1', 'rs ^x/ ', 'rgg a b'].join('\n'));
    fc.assert(
      fc.property(fc.string({ maxLength: 64 }), fc.constantFrom('read' as const, 'write' as const), fc.ipV4(), (p, kind, ip) => {
        const r = applyRemap(rules, { path: p, kind, clientAddress: ip }, { maxSteps: 64 });
        if ('path' in r) expect(typeof r.path).toBe('string');
        else expect(r.denied).toBe(true);
      }),
      { seed, numRuns: 500 },
    );
  });
});
