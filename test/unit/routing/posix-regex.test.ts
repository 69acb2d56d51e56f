import { describe, expect, it } from 'vitest';
import { compilePosixEre, posixEreToJs, PosixRegexError } from '../../../gateway/src/routing/posix-regex.js';

// [POSIX ERE, input, matches]
const CASES: ReadonlyArray<readonly [string, string, boolean]> = [
  ['^/tftpboot/', '/tftpboot/pxelinux.0', true],
  ['a.c', 'abc', true],
  ['a.c', 'a\nc', true], // POSIX '.' matches newline
  ['(ab)+$', 'xabab', true],
  ['x{2,3}', 'xx', true],
  ['^x{2}$', 'xxx', false],
  ['^a{,2}$', 'aa', true], // GNU {,n}
  ['^a{,2}$', 'aaa', false],
  ['a{', 'a{', true], // a '{' that starts no interval is literal
  ['[[:digit:]]+', 'abc123', true],
  ['^[[:alpha:]]+$', 'abc1', false],
  ['^[[:xdigit:]]{8}$', 'C0A8000A', true],
  ['[\\.]', '\\', true], // backslash is literal inside brackets
  ['[\\.]', 'x', false],
  ['[]a]', ']', true],
  ['[^]a]', ']', false],
  ['\\.cfg$', 'grub.cfg', true],
  ['\\.cfg$', 'grubxcfg', false],
  ['\\d', 'd', true], // not a digit class in POSIX
  ['\\d', '5', false],
  ['\\<boot', 'my boot', true],
  ['(a)\\1', 'aa', true],
  ['a/b', 'a/b', true],
];

describe('compilePosixEre', () => {
  it.each(CASES)('posix ERE: %j against %j gives %s', (ere, input, want) => {
    expect(compilePosixEre(ere).test(input)).toBe(want);
  });

  it('posix ERE: the i flag makes matching case-insensitive', () => {
    expect(compilePosixEre('^PXE', 'i').test('pxelinux.0')).toBe(true);
    expect(compilePosixEre('^PXE').test('pxelinux.0')).toBe(false);
  });

  it('posix ERE: group numbering is unchanged by the translation', () => {
    expect(compilePosixEre('^(a)(b)?([[:digit:]])$').exec('a7')?.[3]).toBe('7');
    expect(posixEreToJs('[[:digit:]]')).toBe('[0-9]');
  });

  it.each([
    ['(?=x)', /JavaScript-only/],
    ['(?<n>x)', /JavaScript-only/],
    ['[abc', /unterminated "\["/],
    ['[[:word:]]', /unknown character class/],
    ['[[.a.]]', /not supported/],
    ['*a', /repeat/i],
    ['(a', /group/i],
    ['a\\', /trailing/],
  ])('posix ERE: refuses %j', (ere, why) => {
    expect(() => compilePosixEre(ere)).toThrow(PosixRegexError);
    expect(() => compilePosixEre(ere)).toThrow(why);
  });
});
