/**
 * `tftpfn tail` human output: records come from the network (file names) and from whoever can
 * write to Redis, so no field may reach the terminal as a control sequence (issue 9 §5).
 */
import { describe, expect, it } from 'vitest';
import { formatRecord, printable } from '../../../gateway/src/cli/tail.js';
import type { SessionRecord } from '../../../gateway/src/stats/session-record.js';

const ESC = '\u001b';

function record(extra: Partial<Record<keyof SessionRecord, unknown>> = {}): SessionRecord {
  return {
    endedAt: '2026-12-06T23:00:00.000Z',
    gateway: 'gw-1',
    peer: { address: '10.0.0.7', port: 1234, family: 'IPv4' },
    file: 'boot/x',
    outcome: 'ok',
    bytes: 10,
    durationMs: 1.25,
    function: undefined,
    version: undefined,
    ...extra,
  } as unknown as SessionRecord;
}

describe('tail: human output escapes control characters', () => {
  it('tail: a file name with an ANSI escape is printed escaped', () => {
    const line = formatRecord(record({ file: `${ESC}]0;pwned${'\u0007'}${ESC}[2J` }));
    expect(line).not.toContain(ESC);
    expect(line).not.toContain('\u0007');
    expect(line).toContain('\\u001b]0;pwned');
  });

  it('tail: every text field is escaped: gateway, outcome, function, version, time, address', () => {
    const line = formatRecord(
      record({
        gateway: `gw${ESC}[31m`,
        outcome: `ok\r\nfake line`,
        function: `fn${'\u009b'}2J`,
        version: `v1${'\u202e'}`,
        endedAt: `${ESC}c`,
        peer: { address: `::1${ESC}[0m`, port: 69, family: 'IPv6' },
      }),
    );
    expect(line).not.toMatch(/[\u0000-\u001f\u007f-\u009f\u202e]/);
    expect(line).toContain('gw\\x1b[31m');
    expect(line).toContain('ok\\x0d\\x0afake line');
    expect(line).toContain('fn\\x9b2J@v1\\u202e');
    expect(line).toContain('[::1\\x1b[0m]:69');
  });

  it('tail: a plain record prints exactly as before', () => {
    expect(formatRecord(record({ function: 'grub', version: 'v3' }))).toBe(
      '2026-12-06T23:00:00.000Z  gw-1  10.0.0.7:1234  "boot/x"  ok  10 B  1.3 ms  grub@v3',
    );
  });

  it('tail: a record whose durationMs is not a number still prints (a foreign writer to the stream)', () => {
    expect(formatRecord(record({ durationMs: `1${ESC}` }))).toContain('1\\x1b ms');
  });

  it('tail: printable leaves ordinary text, including non-ASCII letters, alone', () => {
    expect(printable('grub/x86_64-efi/ünïcode.cfg')).toBe('grub/x86_64-efi/ünïcode.cfg');
    expect(printable(`a${'\u007f'}b`)).toBe('a\\x7fb');
  });
});
