/**
 * Seeded generator of hostile datagrams for the fuzz tests: valid RRQ/WRQ/DATA/ACK/ERROR/OACK
 * packets, then mutated (bit flips, truncation, extension, a random opcode, spliced packets),
 * plus plain random bytes. Built by hand, not with the gateway's codec, so a codec bug cannot
 * hide itself.
 */
import { prng } from '../helpers/seeded.js';

export type Rand = () => number;

const int = (rand: Rand, lo: number, hi: number) => lo + Math.floor(rand() * (hi - lo + 1));
const pick = <T>(rand: Rand, items: readonly T[]): T => items[Math.floor(rand() * items.length)];

function randomBytes(rand: Rand, n: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = Math.floor(rand() * 256);
  return b;
}

function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n & 0xffff);
  return b;
}

const cstr = (s: string | Buffer) => Buffer.concat([typeof s === 'string' ? Buffer.from(s, 'latin1') : s, Buffer.from([0])]);

const FILENAMES = [
  'a.bin',
  '/a.bin',
  'dir/x.txt',
  'missing.bin',
  '../etc/passwd',
  '..\\..\\boot.ini',
  '%2e%2e/secret',
  'C:/windows',
  '',
  '.',
  '////',
  'pxelinux.cfg/01-aa-bb-cc-dd-ee-ff',
  'a.bin\u00ff\u00fe',
];

const OPTION_NAMES = ['blksize', 'BLKSIZE', 'tsize', 'timeout', 'windowsize', 'WindowSize', 'multicast', 'rollover', 'x', ''];
const OPTION_VALUES = ['0', '1', '7', '8', '512', '1468', '65464', '65465', '99999999999999999999', '-1', '1e3', '0x10', ' 512', '', 'abc', '64', '65535', '65536', '255', '256'];

/** An option list: sometimes sane, sometimes duplicated, valueless or absurdly long. */
function optionList(rand: Rand): Buffer[] {
  const parts: Buffer[] = [];
  const n = rand() < 0.1 ? int(rand, 30, 80) : int(rand, 0, 5);
  for (let i = 0; i < n; i++) {
    parts.push(cstr(pick(rand, OPTION_NAMES)));
    // An odd count of strings (a name without its value) now and then.
    if (rand() < 0.95) parts.push(cstr(rand() < 0.05 ? '9'.repeat(int(rand, 20, 600)) : pick(rand, OPTION_VALUES)));
  }
  return parts;
}

function filename(rand: Rand): Buffer {
  const r = rand();
  if (r < 0.08) return Buffer.from('A'.repeat(int(rand, 1000, 3000)), 'latin1'); // huge names
  if (r < 0.15) {
    const b = randomBytes(rand, int(rand, 1, 64));
    for (let i = 0; i < b.length; i++) if (b[i] === 0) b[i] = 0x41; // keep it one string
    return b;
  }
  return Buffer.from(pick(rand, FILENAMES), 'latin1');
}

function request(rand: Rand, op: 1 | 2, names?: readonly string[]): Buffer {
  const name = names ? Buffer.from(pick(rand, names), 'latin1') : filename(rand);
  const mode = pick(rand, ['octet', 'octet', 'netascii', 'OCTET', 'NetAscii', 'mail', 'binary', '']);
  return Buffer.concat([u16(op), cstr(name), cstr(mode), ...optionList(rand)]);
}

/** One well-formed packet of a random kind. */
export function validPacket(rand: Rand, names?: readonly string[]): Buffer {
  switch (int(rand, 1, 6)) {
    case 1:
      return request(rand, 1, names);
    case 2:
      return request(rand, 2, names);
    case 3:
      return Buffer.concat([u16(3), u16(int(rand, 0, 65535)), randomBytes(rand, pick(rand, [0, 1, 511, 512, 513, int(rand, 0, 1500)]))]);
    case 4:
      return Buffer.concat([u16(4), u16(pick(rand, [0, 1, 2, 65535, int(rand, 0, 65535)])), ...(rand() < 0.2 ? [randomBytes(rand, int(rand, 1, 8))] : [])]);
    case 5: {
      const msg = rand() < 0.1 ? 'E'.repeat(int(rand, 256, 2000)) : pick(rand, ['', 'oops', 'Option refused', 'Disk full']);
      return Buffer.concat([u16(5), u16(int(rand, 0, 9)), rand() < 0.8 ? cstr(msg) : Buffer.from(msg)]);
    }
    default:
      return Buffer.concat([u16(6), ...optionList(rand)]);
  }
}

/** A valid packet with one or more mutations applied, or pure noise. */
export function hostileDatagram(rand: Rand, names?: readonly string[]): Buffer {
  const r = rand();
  if (r < 0.08) return randomBytes(rand, pick(rand, [0, 1, 2, 3, 4, int(rand, 0, 1600)]));
  let b = validPacket(rand, names);
  if (r < 0.2) return b; // valid as is
  const rounds = int(rand, 1, 3);
  for (let i = 0; i < rounds; i++) {
    switch (int(rand, 0, 6)) {
      case 0: {
        // Bit flips.
        b = Buffer.from(b);
        for (let k = int(rand, 1, 8); k > 0 && b.length > 0; k--) b[int(rand, 0, b.length - 1)] ^= 1 << int(rand, 0, 7);
        break;
      }
      case 1:
        b = b.subarray(0, int(rand, 0, b.length)); // truncation
        break;
      case 2:
        b = Buffer.concat([b, randomBytes(rand, int(rand, 1, rand() < 0.1 ? 1200 : 16))]); // extension
        break;
      case 3: {
        // Random opcode, including 0, 7..255 and 0xffff.
        b = Buffer.from(b.length >= 2 ? b : Buffer.concat([b, Buffer.alloc(2)]));
        b.writeUInt16BE(pick(rand, [0, 7, 8, 255, 256, 0x0106, 0xffff, int(rand, 0, 65535)]), 0);
        break;
      }
      case 4: {
        // NULs removed or added at random spots.
        const at = int(rand, 0, b.length);
        b = rand() < 0.5 ? Buffer.concat([b.subarray(0, at), Buffer.from([0]), b.subarray(at)]) : Buffer.from(b.filter((c) => c !== 0 || rand() < 0.5));
        break;
      }
      case 5:
        b = Buffer.concat([b, validPacket(rand, names)]); // two packets spliced
        break;
      default: {
        const at = int(rand, 0, b.length);
        b = Buffer.concat([b.subarray(0, at), b.subarray(Math.min(b.length, at + int(rand, 1, 8)))]); // deletion
      }
    }
  }
  // UDP over loopback tops out near 64 KiB; stay well inside it.
  return b.length > 60_000 ? b.subarray(0, 60_000) : b;
}

/**
 * Like hostileDatagram, but never one that starts with an opcode in `avoid` (e.g. ERROR, which
 * would end a session at once and leave the rest of a burst to hit a closed port).
 */
export function hostileDatagramAvoiding(rand: Rand, avoid: readonly number[], names?: readonly string[]): Buffer {
  for (let tries = 0; tries < 100; tries++) {
    const b = hostileDatagram(rand, names);
    if (b.length < 2 || !avoid.includes(b.readUInt16BE(0))) return b;
  }
  return Buffer.from([0, 4, 0xff, 0xff]); // ACK 65535: harmless, and bounded the loop above
}

export { prng };
