/**
 * TFTP packet codec (RFC 1350, RFC 2347 OACK). Pure: bytes in, values out.
 *
 * Decoding never throws anything but a TftpError with code TFTP_MALFORMED_PACKET,
 * whatever the input; the listener answers or drops and counts it.
 */
import { ErrorCode, malformed } from './error-codes.js';

export const Opcode = { Rrq: 1, Wrq: 2, Data: 3, Ack: 4, Error: 5, Oack: 6 } as const;
export type Opcode = (typeof Opcode)[keyof typeof Opcode];

export type TransferMode = 'octet' | 'netascii';

/** Options as the peer sent them: lower-cased names, raw string values, first occurrence wins. */
export type OptionMap = Record<string, string>;

export interface RrqPacket { op: 1; filename: string; mode: TransferMode; options: OptionMap }
export interface WrqPacket { op: 2; filename: string; mode: TransferMode; options: OptionMap }
export interface DataPacket { op: 3; block: number; data: Uint8Array }
export interface AckPacket { op: 4; block: number }
export interface ErrorPacket { op: 5; code: number; message: string }
export interface OackPacket { op: 6; options: OptionMap }
export type Packet = RrqPacket | WrqPacket | DataPacket | AckPacket | ErrorPacket | OackPacket;
export type RequestPacket = RrqPacket | WrqPacket;

/** Longest filename we accept, in bytes (C daemons overflowed on long names; we just refuse). */
export const MAX_FILENAME_BYTES = 1024;
/** Longest ERROR text we put on the wire or keep from a peer. */
export const MAX_ERROR_MESSAGE_BYTES = 255;
/** Most options a request may carry before it is treated as garbage. */
export const MAX_OPTIONS = 32;

const NUL = 0;

/** Reads NUL-terminated strings from a buffer; returns undefined when no NUL is left. */
function readCString(buf: Uint8Array, start: number): { value: string; next: number } | undefined {
  const end = buf.indexOf(NUL, start);
  if (end < 0) return undefined;
  return { value: Buffer.from(buf.buffer, buf.byteOffset + start, end - start).toString('utf8'), next: end + 1 };
}

function decodeOptions(buf: Uint8Array, offset: number): OptionMap {
  const options: OptionMap = Object.create(null);
  let count = 0;
  let pos = offset;
  while (pos < buf.length) {
    // Some clients pad requests with trailing NULs: tolerate padding, not half an option.
    if (isAllZero(buf, pos)) break;
    const name = readCString(buf, pos);
    if (!name) throw malformed('option name is not NUL-terminated');
    const value = readCString(buf, name.next);
    if (!value) throw malformed(`option "${truncate(name.value)}" has no value`);
    pos = value.next;
    if (++count > MAX_OPTIONS) throw malformed('too many options');
    const key = name.value.toLowerCase();
    if (key.length === 0) throw malformed('empty option name');
    // RFC 2347 says nothing of duplicates; the first one wins, as in tftp-hpa.
    if (!(key in options)) options[key] = value.value;
  }
  return options;
}

function isAllZero(buf: Uint8Array, from: number): boolean {
  for (let i = from; i < buf.length; i++) if (buf[i] !== 0) return false;
  return true;
}

function truncate(s: string): string {
  return s.length > 32 ? `${s.slice(0, 32)}...` : s;
}

function decodeRequest(op: 1 | 2, buf: Uint8Array): RequestPacket {
  const filename = readCString(buf, 2);
  if (!filename) throw malformed('filename is not NUL-terminated');
  if (filename.next - 3 > MAX_FILENAME_BYTES) throw malformed('filename too long');
  if (filename.value.length === 0) throw malformed('empty filename');
  const mode = readCString(buf, filename.next);
  if (!mode) throw malformed('mode is not NUL-terminated');
  const modeName = mode.value.toLowerCase();
  if (modeName !== 'octet' && modeName !== 'netascii') {
    // RFC 1350 "mail" is obsolete; anything else is not TFTP.
    throw malformed(`unsupported transfer mode "${truncate(mode.value)}"`);
  }
  const options = decodeOptions(buf, mode.next);
  return { op, filename: filename.value, mode: modeName, options };
}

/** Decodes one datagram. Throws only TftpError (code TFTP_MALFORMED_PACKET). */
export function decodePacket(input: Uint8Array): Packet {
  const buf = input;
  if (buf.length < 2) throw malformed('datagram shorter than an opcode');
  const op = (buf[0] << 8) | buf[1];
  switch (op) {
    case Opcode.Rrq:
    case Opcode.Wrq:
      return decodeRequest(op, buf);
    case Opcode.Data:
      if (buf.length < 4) throw malformed('DATA shorter than its header');
      return { op, block: (buf[2] << 8) | buf[3], data: buf.subarray(4) };
    case Opcode.Ack:
      // Some stacks pad ACKs; the first four bytes are all that matter.
      if (buf.length < 4) throw malformed('ACK shorter than its header');
      return { op, block: (buf[2] << 8) | buf[3] };
    case Opcode.Error: {
      if (buf.length < 4) throw malformed('ERROR shorter than its header');
      const code = (buf[2] << 8) | buf[3];
      const end = buf.indexOf(NUL, 4);
      const raw = Buffer.from(buf.buffer, buf.byteOffset + 4, (end < 0 ? buf.length : end) - 4);
      return { op, code, message: raw.subarray(0, MAX_ERROR_MESSAGE_BYTES).toString('utf8') };
    }
    case Opcode.Oack:
      return { op, options: decodeOptions(buf, 2) };
    default:
      throw malformed(`unknown opcode ${op}`);
  }
}

/*
 *  2 bytes    string    1 byte   string   1 byte   string  1 byte  string  1 byte
 *  ------------------------------------------------------------------------------
 * | 01/02 | Filename |   0   |  Mode  |   0   |  opt1  |   0   | value1 |   0   | ...
 *  ------------------------------------------------------------------------------
 */
function encodeRequest(p: RequestPacket): Buffer {
  const parts: (string | number)[] = [p.filename, p.mode];
  for (const [k, v] of Object.entries(p.options)) parts.push(k, v);
  return encodeStrings(p.op, parts.map(String));
}

/*
 *  2 bytes    string    1 byte   string   1 byte
 *  --------------------------------------------- ...
 * |  06   |  opt1  |   0   | value1 |   0   |
 *  --------------------------------------------- ...
 */
function encodeOack(p: OackPacket): Buffer {
  const parts: string[] = [];
  for (const [k, v] of Object.entries(p.options)) parts.push(k, v);
  return encodeStrings(Opcode.Oack, parts);
}

function encodeStrings(op: number, parts: string[]): Buffer {
  let len = 2;
  const encoded = parts.map((s) => Buffer.from(s, 'utf8'));
  for (const e of encoded) len += e.length + 1;
  const out = Buffer.allocUnsafe(len);
  out[0] = 0;
  out[1] = op;
  let pos = 2;
  for (const e of encoded) {
    e.copy(out, pos);
    pos += e.length;
    out[pos++] = NUL;
  }
  return out;
}

/** The 4-byte header shared by DATA and ACK: opcode then block number. */
function encodeBlockHeader(op: number, block: number): Buffer {
  const out = Buffer.allocUnsafe(4);
  out[0] = 0;
  out[1] = op;
  out[2] = (block >> 8) & 0xff;
  out[3] = block & 0xff;
  return out;
}

/*
 *  2 bytes    2 bytes     n bytes
 *  ----------------------------------
 * |  03   |  Block #  |   Data     |
 *  ----------------------------------
 */
/** DATA header alone, sent with the payload as a second part of the same datagram. */
export function encodeDataHeader(block: number): Buffer {
  return encodeBlockHeader(Opcode.Data, block);
}

export function encodeData(block: number, data: Uint8Array): Buffer {
  return Buffer.concat([encodeBlockHeader(Opcode.Data, block), data]);
}

/*
 *  2 bytes    2 bytes
 *  ---------------------
 * |  04   |  Block #  |
 *  ---------------------
 */
export function encodeAck(block: number): Buffer {
  return encodeBlockHeader(Opcode.Ack, block);
}

/*
 *  2 bytes    2 bytes     string    1 byte
 *  -----------------------------------------
 * |  05   |  ErrorCode |   ErrMsg   |   0  |
 *  -----------------------------------------
 */
export function encodeError(code: ErrorCode | number, message: string): Buffer {
  const text = Buffer.from(message, 'utf8').subarray(0, MAX_ERROR_MESSAGE_BYTES);
  const out = Buffer.allocUnsafe(5 + text.length);
  out[0] = 0;
  out[1] = Opcode.Error;
  out[2] = (code >> 8) & 0xff;
  out[3] = code & 0xff;
  text.copy(out, 4);
  out[4 + text.length] = NUL;
  return out;
}

export function encodePacket(p: Packet): Buffer {
  switch (p.op) {
    case Opcode.Rrq:
    case Opcode.Wrq:
      return encodeRequest(p);
    case Opcode.Data:
      return encodeData(p.block, p.data);
    case Opcode.Ack:
      return encodeAck(p.block);
    case Opcode.Error:
      return encodeError(p.code, p.message);
    case Opcode.Oack:
      return encodeOack(p);
  }
}

export { ErrorCode };
