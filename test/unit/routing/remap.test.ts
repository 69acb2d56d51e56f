import { describe, expect, it } from 'vitest';
import { addressToHex, applyRemap, parseRemap, RemapParseError, type RemapInput } from '../../../gateway/src/routing/remap.js';

const read = (path: string, clientAddress = '192.168.0.10'): RemapInput => ({ path, kind: 'read', clientAddress });
const write = (path: string, clientAddress = '192.168.0.10'): RemapInput => ({ path, kind: 'write', clientAddress });
const run = (file: string, input: RemapInput, maxSteps?: number) => applyRemap(parseRemap(file), input, { maxSteps });

function parseError(file: string): RemapParseError {
  try {
    parseRemap(file);
  } catch (e) {
    expect(e).toBeInstanceOf(RemapParseError);
    return e as RemapParseError;
  }
  throw new Error('expected a parse error');
}

describe('applyRemap flags', () => {
  it('remap r: rewrites only the matched part and goes on to the next rule', () => {
    expect(run('r ^/tftpboot/ /\nr ^/ ""', read('/tftpboot/pxelinux.0'))).toEqual({ path: '""pxelinux.0' });
    expect(run('r cfg$ conf', read('a.cfg.cfg'))).toEqual({ path: 'a.cfg.conf' });
  });

  it('remap r: a rule that does not match leaves the name alone', () => {
    expect(run('r ^boot/ x/', read('pxelinux.0'))).toEqual({ path: 'pxelinux.0' });
  });

  it('remap r without a replacement deletes the match', () => {
    expect(run('r ^/+', read('//boot/x'))).toEqual({ path: 'boot/x' });
  });

  it('remap i: matches case-insensitively', () => {
    expect(run('ri ^PXELINUX pxelinux', read('PxeLinux.0'))).toEqual({ path: 'pxelinux.0' });
    expect(run('r ^PXELINUX pxelinux', read('PxeLinux.0'))).toEqual({ path: 'PxeLinux.0' });
  });

  it('remap g: repeats the rewrite until nothing matches', () => {
    expect(run('rg \\\\ /', read('boot\\efi\\shim.efi'))).toEqual({ path: 'boot/efi/shim.efi' });
    // Plain g restarts from the beginning each time: "aa" -> "a" -> ... until no "aa" is left.
    expect(run('rg aa a', read('aaaa'))).toEqual({ path: 'a' });
  });

  it('remap gg: sed-style, each repeat searches after the last replacement', () => {
    expect(run('rgg aa a', read('aaaa'))).toEqual({ path: 'aa' });
    expect(run('rgg ^x y', read('xxx'))).toEqual({ path: 'yxx' });
    expect(run('rgg a ba', read('aaa'))).toEqual({ path: 'bababa' });
  });

  it('remap e: stops at the first matching rule', () => {
    const file = 're ^/boot/ boot/\nr boot late';
    expect(run(file, read('/boot/x'))).toEqual({ path: 'boot/x' });
    expect(run('e ^keep\nr keep changed', read('keep-me'))).toEqual({ path: 'keep-me' });
    expect(run('e ^keep\nr x y', read('other-x'))).toEqual({ path: 'other-y' });
  });

  it('remap s: starts over from the first rule after a match', () => {
    // The first rule only makes sense after the second has run: s gives it a second chance.
    const file = 're ^final/ \\0\nrs ^stage/ final/';
    expect(run(file, read('stage/x'))).toEqual({ path: 'final/x' });
  });

  it('remap a: refuses the request, with the replacement as the error text', () => {
    expect(run('a \\.key$', read('secrets/host.key'))).toEqual({ denied: true, reason: 'abort', line: 1 });
    expect(run('a ^(private)/ no\\ \\1\\ for\\ \\i', read('private/x'))).toEqual({
      denied: true,
      reason: 'abort',
      line: 1,
      message: 'no private for 192.168.0.10',
    });
    expect(run('a \\.key$', read('host.pub'))).toEqual({ path: 'host.pub' });
  });

  it('remap G and P: apply to reads only and to writes only', () => {
    const file = 'rG ^ get/\nrP ^ put/';
    expect(run(file, read('f'))).toEqual({ path: 'get/f' });
    expect(run(file, write('f'))).toEqual({ path: 'put/f' });
    expect(run('aP .', write('f'))).toMatchObject({ denied: true });
    expect(run('aP .', read('f'))).toEqual({ path: 'f' });
  });

  it('remap 4 and 6: apply by client address family; a mapped IPv4 counts as IPv4', () => {
    const file = 'r4 ^ v4/\nr6 ^ v6/';
    expect(run(file, read('f', '10.0.0.1'))).toEqual({ path: 'v4/f' });
    expect(run(file, read('f', '::ffff:10.0.0.1'))).toEqual({ path: 'v4/f' });
    expect(run(file, read('f', 'fe80::1'))).toEqual({ path: 'v6/f' });
  });

  it('remap ~: applies when the regex does not match', () => {
    const file = '~a ^(pxelinux|boot)';
    expect(run(file, read('etc/passwd'))).toMatchObject({ denied: true, reason: 'abort' });
    expect(run(file, read('boot/x'))).toEqual({ path: 'boot/x' });
    expect(run('~e ^x\nr ^ y', read('abc'))).toEqual({ path: 'abc' });
  });
});

describe('applyRemap replacement', () => {
  it('remap: \\0 is the whole match and \\1-\\9 the groups', () => {
    expect(run('r ^([a-z]+)-([0-9]+)$ \\2/\\1/\\0', read('img-42'))).toEqual({ path: '42/img/img-42' });
    expect(run('r ^(a)(b)(c)(d)(e)(f)(g)(h)(i)$ \\9\\8\\7\\6\\5\\4\\3\\2\\1', read('abcdefghi'))).toEqual({ path: 'ihgfedcba' });
    // A group that took no part in the match is empty.
    expect(run('r ^(x)?(y)$ [\\1]\\2', read('y'))).toEqual({ path: '[]y' });
  });

  it('remap: \\i is the client IP and \\x its hex, as pxelinux names per-host files', () => {
    expect(run('r ^ \\i/', read('f', '192.168.0.10'))).toEqual({ path: '192.168.0.10/f' });
    expect(run('r ^pxelinux.cfg/default$ pxelinux.cfg/\\x', read('pxelinux.cfg/default', '192.168.0.10'))).toEqual({
      path: 'pxelinux.cfg/C0A8000A',
    });
    expect(run('r ^ \\i/', read('f', '::ffff:10.1.2.3'))).toEqual({ path: '10.1.2.3/f' });
  });

  it('remap: addressToHex gives 8 digits for IPv4 and 32 for IPv6', () => {
    expect(addressToHex('10.0.0.1')).toBe('0A000001');
    expect(addressToHex('::ffff:192.168.0.10')).toBe('C0A8000A');
    expect(addressToHex('2001:db8::1')).toBe('20010DB8000000000000000000000001');
    expect(addressToHex('::1')).toBe('00000000000000000000000000000001');
    expect(addressToHex('fe80::1%eth0')).toBe('FE800000000000000000000000000001');
  });

  it('remap: \\L, \\U and \\E change case, \\\\ is a backslash, other escapes are the letter', () => {
    expect(run('r ^(.*)$ \\L\\1', read('ABC'))).toEqual({ path: 'abc' });
    expect(run('r ^(.)(.*)$ \\U\\1\\E\\2', read('abc'))).toEqual({ path: 'Abc' });
    expect(run('r x a\\\\b', read('x'))).toEqual({ path: 'a\\b' });
    expect(run('r x \\q', read('x'))).toEqual({ path: 'q' });
  });
});

describe('parseRemap', () => {
  it('remap parse: skips comments and blank lines, keeps line numbers', () => {
    const rules = parseRemap('# header\n\n   \nr a b # trailing comment\n\t# indented comment\ne c');
    expect(rules.map((r) => r.line)).toEqual([4, 6]);
    expect(rules[0].replacement).toBe('b');
  });

  it('remap parse: an escaped space or # belongs to the field', () => {
    expect(run('r a\\ b c\\#d', read('a b'))).toEqual({ path: 'c#d' });
  });

  it('remap parse: an invalid regex names the line and the problem', () => {
    const e = parseError('# ok\nr ^fine x\nr (unclosed x');
    expect(e.line).toBe(3);
    expect(e.message).toMatch(/^remap line 3: bad regex "\(unclosed": [A-Z]/);
  });

  it.each([
    ['x ^a b', 1, /unknown flag "x"/],
    ['rj ^a b', 1, /"j" is not supported/],
    [':label', 1, /labels/],
    ['ra ^a b', 1, /"r" and "a" cannot be combined/],
    ['r~ ^a b', 1, /"r" and "~" cannot be combined/],
    ['es ^a', 1, /"e" and "s" cannot be combined/],
    ['GP ^a', 1, /match nothing/],
    ['\n\nr', 3, /regex missing/],
    ['r a b c', 1, /4 fields/],
    ['r (?=x) y', 1, /JavaScript-only/],
  ])('remap parse: refuses %j at line %i', (file, line, why) => {
    const e = parseError(file);
    expect(e.line).toBe(line);
    expect(e.message).toMatch(why);
  });
});

describe('applyRemap loop bound', () => {
  it('remap: an "s" rule that always matches is cut off and refused', () => {
    expect(run('s .', read('x'), 64)).toEqual({ denied: true, reason: 'loop', line: 1 });
    expect(run('s .', read('x'))).toMatchObject({ denied: true, reason: 'loop' });
  });

  it('remap: a "g" rewrite that keeps matching is cut off and refused', () => {
    expect(run('rg a aa', read('a'), 64)).toEqual({ denied: true, reason: 'loop', line: 1 });
  });

  it('remap: a rewrite-and-restart cycle ends once its regex stops matching', () => {
    // Each pass removes one "x/": three restarts, well within the bound.
    expect(run('rs ^x/ ', read('x/x/x/f'), 64)).toEqual({ path: 'f' });
  });
});

describe('a realistic remap file', () => {
  const file = `
# Migrated from /etc/tftpd.remap
# Refuse private keys outright.
a       \\.key$
# Old clients ask for absolute paths under the old root.
r       ^/tftpboot/
# Firmware that sends DOS separators.
rg      \\\\        /
# pxelinux asks for MAC files in any case; the files on disk are lower case.
ri      ^(pxelinux\\.cfg/01-[0-9a-f-]+)$   \\L\\1
# Uploads go to a per-client folder.
rP      ^(.*)$     uploads/\\i/\\1
`;
  const rules = parseRemap(file);

  it('realistic: strips the old root', () => {
    expect(applyRemap(rules, read('/tftpboot/pxelinux.0'))).toEqual({ path: 'pxelinux.0' });
  });

  it('realistic: lower-cases per-MAC pxelinux names', () => {
    expect(applyRemap(rules, read('/tftpboot/pxelinux.cfg/01-AA-BB-CC-DD-EE-FF'))).toEqual({ path: 'pxelinux.cfg/01-aa-bb-cc-dd-ee-ff' });
  });

  it('realistic: turns backslashes into slashes', () => {
    expect(applyRemap(rules, read('boot\\x64\\wdsnbp.com'))).toEqual({ path: 'boot/x64/wdsnbp.com' });
  });

  it('realistic: denies key files wherever they are', () => {
    expect(applyRemap(rules, read('/tftpboot/certs/server.key'))).toMatchObject({ denied: true, reason: 'abort', line: 4 });
  });

  it('realistic: puts uploads under the client address', () => {
    expect(applyRemap(rules, write('/tftpboot/log.txt', '10.9.8.7'))).toEqual({ path: 'uploads/10.9.8.7/log.txt' });
  });
});

describe('remap: deny rules hold against other spellings of the name (issue 9 §4)', () => {
  // The example file of docs/ROUTING.md, verbatim.
  const DOCS_EXAMPLE = [
    '# flags   regex                          replacement',
    'a         \\.key$                                         # refuse key files (ERROR 2)',
    'r         ^/tftpboot/                                    # strip the old root',
    'rg        \\\\                             /               # DOS separators: boot\\pxelinux.0 -> boot/pxelinux.0',
    'ri        ^(pxelinux\\.cfg/01-[0-9a-f-]+)$  \\L\\1          # MAC files are lower case on disk',
    'rP        ^(.*)$                         uploads/\\i/\\1   # uploads per client',
  ].join('\n');

  it.each([
    'x.key',
    'x.key/',
    'x.key/.',
    'x.key\\',
    'x.key//',
    'x.key/./',
    'x.key\\.',
    '/tftpboot/x.key/',
    '/tftpboot/boot\\x.key\\',
    'boot\\x.key/.',
  ])('the documented `a \\.key$` refuses %j, for reads and writes', (name) => {
    expect(run(DOCS_EXAMPLE, read(name))).toMatchObject({ denied: true, reason: 'abort', line: 2 });
    expect(run(DOCS_EXAMPLE, write(name))).toMatchObject({ denied: true, reason: 'abort', line: 2 });
  });

  it('the documented rewrites still work as the docs say', () => {
    expect(run(DOCS_EXAMPLE, read('boot\\pxelinux.0'))).toEqual({ path: 'boot/pxelinux.0' });
    expect(run(DOCS_EXAMPLE, read('/tftpboot/pxelinux.0'))).toEqual({ path: 'pxelinux.0' });
    expect(run(DOCS_EXAMPLE, read('pxelinux.cfg/01-AA-BB-CC-DD-EE-FF'))).toEqual({ path: 'pxelinux.cfg/01-aa-bb-cc-dd-ee-ff' });
    expect(run(DOCS_EXAMPLE, write('log.txt'))).toEqual({ path: 'uploads/192.168.0.10/log.txt' });
    // A name that merely contains ".key" elsewhere is not refused.
    expect(run(DOCS_EXAMPLE, read('x.key.txt/'))).toEqual({ path: 'x.key.txt/' });
  });

  it('an anchored deny rule holds against doubled separators and "." segments', () => {
    const rules = 'a ^/tftpboot/private/\nr ^/tftpboot/';
    for (const name of ['/tftpboot/private/k', '/tftpboot//private/k', '/tftpboot/./private/k', '\\tftpboot\\private\\k']) {
      expect(run(rules, read(name)), name).toMatchObject({ denied: true, line: 1 });
    }
    expect(run(rules, read('/tftpboot/public/k'))).toEqual({ path: 'public/k' });
  });

  it('an allow-list ("a~") must match both spellings: a trailing "/" or "." cannot slip past it either way', () => {
    const rules = 'a~ ^[a-z]+\\.cfg$';
    expect(run(rules, read('grub.cfg'))).toEqual({ path: 'grub.cfg' });
    expect(run(rules, read('grub.cfg/'))).toMatchObject({ denied: true });
    expect(run(rules, read('grub.cfg/.'))).toMatchObject({ denied: true });
  });

  it("an 'a' rule's text can use groups of the spelling that matched", () => {
    expect(run('a ^(.*)\\.key$ no\\ \\1', read('x.key/'))).toMatchObject({ denied: true, message: 'no x' });
  });
});
