import { describe, expect, it } from 'vitest';
import { normalizePath } from '../../../gateway/src/protocol/path.js';
import { ErrorCode, TftpError } from '../../../gateway/src/protocol/error-codes.js';

/** Asserts that `raw` is refused the way the gateway answers it: TftpError with ERROR 2. */
function expectDenied(raw: string): void {
  let caught: unknown;
  try {
    normalizePath(raw);
  } catch (e) {
    caught = e;
  }
  expect(caught, `expected ${JSON.stringify(raw)} to be refused`).toBeInstanceOf(TftpError);
  expect((caught as TftpError).tftpCode).toBe(ErrorCode.AccessViolation);
  expect((caught as TftpError).code).toBe('TFTP_ACCESS_VIOLATION');
  // The wire text is fixed: it never echoes what the client sent.
  expect((caught as TftpError).message).toBe('access violation');
}

describe('normalizePath', () => {
  it('normalizePath: strips one or more leading slashes', () => {
    expect(normalizePath('/pxelinux.0').normalized).toBe('pxelinux.0');
    expect(normalizePath('///boot/grub.cfg').normalized).toBe('boot/grub.cfg');
  });

  it('normalizePath: collapses "." and empty segments', () => {
    expect(normalizePath('a/./b//c').normalized).toBe('a/b/c');
    expect(normalizePath('./a/').normalized).toBe('a');
    expect(normalizePath('a/././/./b/.').normalized).toBe('a/b');
  });

  it('normalizePath: keeps the raw filename exactly as sent', () => {
    const raw = '//boot/./x//y';
    const p = normalizePath(raw);
    expect(p.raw).toBe(raw);
    expect(p.normalized).toBe('boot/x/y');
  });

  it('normalizePath: passes ordinary names with spaces, unicode and dots inside names', () => {
    expect(normalizePath('my file.bin').normalized).toBe('my file.bin');
    expect(normalizePath('grüße/日本語.cfg').normalized).toBe('grüße/日本語.cfg');
    expect(normalizePath('pxelinux.cfg/01-aa-bb-cc-dd-ee-ff').normalized).toBe('pxelinux.cfg/01-aa-bb-cc-dd-ee-ff');
    expect(normalizePath('aa:bb:cc:dd:ee:ff/ipxe.efi').normalized).toBe('aa:bb:cc:dd:ee:ff/ipxe.efi');
    expect(normalizePath('..hidden/...').normalized).toBe('..hidden/...');
    expect(normalizePath('100%.txt').normalized).toBe('100%.txt');
  });

  it.each(['..', '../etc/passwd', 'a/../../b', 'a/..', '/../x', 'a/b/../c', './..'])(
    'normalizePath: refuses ".." anywhere with ERROR 2 (%s)',
    (raw) => expectDenied(raw),
  );

  it.each(['a\\b', '..\\..\\windows', '\\boot.ini'])('normalizePath: refuses a backslash with ERROR 2 (%s)', (raw) =>
    expectDenied(raw),
  );

  it.each(['a\u0000b', 'a\nb', 'file\r', '\u0001x', 'x\u001f', 'del\u007f'])(
    'normalizePath: refuses control characters and NUL with ERROR 2 (%j)',
    (raw) => expectDenied(raw),
  );

  it.each(['%2e%2e/etc', '%2E%2E/etc', 'a%2fb', 'a%2Fb', 'a%5cb', 'a%5Cb', 'x%00.bin', '..%2F', '%2e%2E%2f'])(
    'normalizePath: refuses percent-encoded ".", "/", "\\" and NUL in any case with ERROR 2 (%s)',
    (raw) => expectDenied(raw),
  );

  it.each(['C:', 'c:/windows/win.ini', 'Z:boot', 'd:\\x'])('normalizePath: refuses a drive letter with ERROR 2 (%s)', (raw) =>
    expectDenied(raw),
  );

  it.each(['/', '///', '.', './', '/././/'])('normalizePath: refuses a path that names no file with ERROR 2 (%j)', (raw) =>
    expectDenied(raw),
  );

  it('normalizePath: refuses the replacement character left by invalid UTF-8 with ERROR 2', () => {
    const raw = Buffer.from([0x61, 0xff, 0x62]).toString('utf8');
    expectDenied(raw);
  });
});
