/**
 * Pins the bytes of every fixed ERROR the gateway can send (RFC 1350 section 5:
 * opcode 5, a 2-byte code, the text, a NUL). A changed or added text fails here first.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import { ErrorCode } from '../../../gateway/src/protocol/error-codes.js';
import { decodePacket, encodeError, Opcode } from '../../../gateway/src/protocol/packet.js';
import { FALLBACK, WIRE_TEXT } from '../../../gateway/src/errors/wire-texts.js';
import { PROGRESS_ERROR_TEXT } from '../../../gateway/src/session/progress.js';
import { BUSY_MESSAGE } from '../../../gateway/src/admission/budgeted-session.js';

// name, code, text, the ERROR datagram in hex
const GOLDEN: [string, number, string, string][] = [
  ['internalError', 0, 'internal error', '00050000696e7465726e616c206572726f7200'],
  ['upstreamUnavailable', 0, 'upstream unavailable', '00050000757073747265616d20756e617661696c61626c6500'],
  ['fileChanged', 0, 'file changed during transfer', '0005000066696c65206368616e67656420647572696e67207472616e7366657200'],
  ['uploadEnded', 0, 'upload already ended', '0005000075706c6f616420616c726561647920656e64656400'],
  ['busy', 0, 'server busy, try again later', '0005000073657276657220627573792c2074727920616761696e206c6174657200'],
  ['functionUnavailable', 0, 'function unavailable', '0005000066756e6374696f6e20756e617661696c61626c6500'],
  ['shuttingDown', 0, 'server shutting down', '00050000736572766572207368757474696e6720646f776e00'],
  ['tooManyFromClient', 0, 'too many sessions from this client', '00050000746f6f206d616e792073657373696f6e732066726f6d207468697320636c69656e7400'],
  ['tooManyFromNetwork', 0, 'too many sessions from this network', '00050000746f6f206d616e792073657373696f6e732066726f6d2074686973206e6574776f726b00'],
  ['transferTooSlow', 0, 'transfer too slow', '000500007472616e7366657220746f6f20736c6f7700'],
  ['transferTooLong', 0, 'transfer took too long', '000500007472616e7366657220746f6f6b20746f6f206c6f6e6700'],
  ['fileNotFound', 1, 'file not found', '0005000166696c65206e6f7420666f756e6400'],
  ['accessViolation', 2, 'access violation', '000500026163636573732076696f6c6174696f6e00'],
  ['writesDisabled', 2, 'writes are disabled', '00050002777269746573206172652064697361626c656400'],
  ['diskFull', 3, 'disk full', '000500036469736b2066756c6c00'],
  ['uploadTooLarge', 3, 'upload too large', '0005000375706c6f616420746f6f206c6172676500'],
  ['fileTooLarge', 3, 'file too large', '0005000366696c6520746f6f206c6172676500'],
  ['blockTooLarge', 4, 'block larger than blksize', '00050004626c6f636b206c6172676572207468616e20626c6b73697a6500'],
  ['unknownTransferId', 5, 'unknown transfer id', '00050005756e6b6e6f776e207472616e7366657220696400'],
  ['fileExists', 6, 'file already exists', '0005000666696c6520616c72656164792065786973747300'],
];

describe('wire texts', () => {
  test.each(GOLDEN)('wire texts: %s is ERROR %i "%s" with exactly these bytes', (name, code, text, hex) => {
    const entry = WIRE_TEXT[name as keyof typeof WIRE_TEXT];
    expect(entry).toEqual({ code, text });
    expect(encodeError(entry.code, entry.text).toString('hex')).toBe(hex);
    expect(decodePacket(Buffer.from(hex, 'hex'))).toEqual({ op: Opcode.Error, code, message: text });
  });

  test('wire texts: the table holds exactly the pinned entries', () => {
    expect(Object.keys(WIRE_TEXT).sort()).toEqual(GOLDEN.map(([name]) => name).sort());
  });

  test('wire texts: the one fallback is ERROR 0 "internal error"', () => {
    expect(FALLBACK).toEqual({ code: 0, text: 'internal error' });
  });

  test('wire texts: texts still written outside the table agree with it', () => {
    expect(PROGRESS_ERROR_TEXT['too-slow']).toBe(WIRE_TEXT.transferTooSlow.text);
    expect(PROGRESS_ERROR_TEXT['too-long']).toBe(WIRE_TEXT.transferTooLong.text);
    expect(BUSY_MESSAGE).toBe(WIRE_TEXT.busy.text);
  });

  test('wire texts: every fixed ERROR text written in gateway/src (outside the client) is an entry of the table', () => {
    const src = fileURLToPath(new URL('../../../gateway/src/', import.meta.url));
    const files = (readdirSync(src, { recursive: true }) as string[]).filter((f) => f.endsWith('.ts') && !f.startsWith('client'));
    // `ErrorCode.X, 'text'` (a TftpError, a reply, an abort) and `tftpCode: ErrorCode.X, message: 'text'`.
    const pattern = /ErrorCode\.(\w+),\s*(?:message:\s*)?'([^']+)'/g;
    const table = new Set(Object.values(WIRE_TEXT).map((w) => `${w.code} ${w.text}`));
    const found: string[] = [];
    for (const file of files) {
      for (const m of readFileSync(join(src, file), 'utf8').matchAll(pattern)) {
        const code = ErrorCode[m[1] as keyof typeof ErrorCode];
        found.push(`${code} ${m[2]}`);
      }
    }
    expect(found.length).toBeGreaterThan(5);
    expect(found.filter((f) => !table.has(f))).toEqual([]);
  });
});
