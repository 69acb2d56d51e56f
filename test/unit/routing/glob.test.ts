import { describe, expect, it } from 'vitest';
import { compileGlob, GlobError } from '../../../gateway/src/routing/glob.js';

// [pattern, path, matches]
const CASES: ReadonlyArray<readonly [string, string, boolean]> = [
  // literal
  ['pxelinux.0', 'pxelinux.0', true],
  ['pxelinux.0', 'pxelinux.00', false],
  ['boot/grub.cfg', 'boot/grub.cfg', true],
  // '.' and other regex syntax are literal: no injection
  ['a.b', 'axb', false],
  ['(x)|y', '(x)|y', true],
  ['(x)|y', 'y', false],
  ['a+', 'aa', false],
  ['a{2}', 'a{2}', true],
  ['$^', '$^', true],
  // '*' within one segment
  ['*.cfg', 'grub.cfg', true],
  ['*.cfg', '.cfg', true],
  ['*.cfg', 'boot/grub.cfg', false],
  ['boot/*', 'boot/vmlinuz', true],
  ['boot/*', 'boot/x/vmlinuz', false],
  ['grub.cfg-*', 'grub.cfg-01-aa-bb', true],
  // '?' is one character, never '/'
  ['file?.bin', 'file1.bin', true],
  ['file?.bin', 'file12.bin', false],
  ['a?b', 'a/b', false],
  // character classes
  ['[abc].txt', 'b.txt', true],
  ['[abc].txt', 'd.txt', false],
  ['img[0-9]', 'img7', true],
  ['img[0-9]', 'imgx', false],
  ['[!a-z]x', '1x', true],
  ['[!a-z]x', 'qx', false],
  ['[^a-z]x', '1x', true],
  ['a[!x]b', 'a/b', false],
  ['[]]', ']', true],
  ['[\\]]x', ']x', true],
  ['[.]', 'a', false],
  ['[a-]', '-', true],
  // '**' as whole segments
  ['**', 'a', true],
  ['**', 'a/b/c', true],
  ['**/grub.cfg', 'grub.cfg', true],
  ['**/grub.cfg', 'efi/boot/grub.cfg', true],
  ['**/grub.cfg', 'xgrub.cfg', false],
  ['a/**/b', 'a/b', true],
  ['a/**/b', 'a/x/y/b', true],
  ['a/**/b', 'a/xb', false],
  ['boot/**', 'boot/vmlinuz', true],
  ['boot/**', 'boot/efi/shim.efi', true],
  ['boot/**', 'boot', false],
  ['boot/**', 'bootx/y', false],
  ['**/*.efi', 'efi/boot/bootx64.efi', true],
  // escapes
  ['\\*', '*', true],
  ['\\*', 'a', false],
  ['\\[x]', '[x]', true],
];

describe('compileGlob', () => {
  it.each(CASES)('glob: %s against %s gives %s', (pattern, path, want) => {
    expect(compileGlob(pattern).matches(path)).toBe(want);
  });

  it('glob: reports the fixed leading segments and whether the pattern is literal', () => {
    expect(compileGlob('boot/efi/*.efi').staticPrefix).toBe('boot/efi');
    expect(compileGlob('boot/**').staticPrefix).toBe('boot');
    expect(compileGlob('*/x').staticPrefix).toBe('');
    expect(compileGlob('a/b[0]/c').staticPrefix).toBe('a');
    expect(compileGlob('a/b').isLiteral).toBe(true);
    expect(compileGlob('a/b').staticPrefix).toBe('a');
    expect(compileGlob('a/*').isLiteral).toBe(false);
  });

  it.each([
    ['', /empty pattern/],
    ['/boot/*', /leading "\/"/],
    ['a//b', /empty, "\." or "\.\." segments/],
    ['a/../b', /segments/],
    ['a**', /whole segment/],
    ['[abc', /unterminated "\["/],
    ['[z-a]', /backwards/],
    ['x\\', /trailing/],
  ])('glob: refuses %j with a fix', (pattern, why) => {
    expect(() => compileGlob(pattern)).toThrow(GlobError);
    expect(() => compileGlob(pattern)).toThrow(why);
  });
});
