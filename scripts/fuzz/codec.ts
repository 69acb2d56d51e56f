/**
 * Codec fuzz: hostile and valid datagrams (test/robustness/datagrams.ts, built by hand rather
 * than with the codec) through decodePacket. Invariants:
 *  - decode returns a packet or throws a TftpError, nothing else;
 *  - a decoded packet encodes without throwing, and decoding that encoding gives the same
 *    packet (decode ∘ encode is the identity on what decode produces), except that an ERROR
 *    message is cut to MAX_ERROR_MESSAGE_BYTES on the way out (we never send long ones): for
 *    ERROR the second round trip must then be exact.
 */
import { isDeepStrictEqual } from 'node:util';
import { TftpError } from '../../gateway/src/protocol/error-codes.js';
import { decodePacket, encodePacket, type Packet } from '../../gateway/src/protocol/packet.js';
import { hostileDatagram, validPacket, type Rand } from '../../test/robustness/datagrams.js';

export interface CodecStats {
  cases: number;
  decoded: number;
  refused: number;
  failures: string[];
}

/** Packets compared by value: DATA bytes as hex (a subarray and a Buffer are equal here). */
function comparable(p: Packet): unknown {
  return p.op === 3 ? { ...p, data: Buffer.from(p.data).toString('hex') } : p;
}

const hex = (b: Uint8Array) => Buffer.from(b.subarray(0, 64)).toString('hex') + (b.length > 64 ? `…(${b.length} bytes)` : '');

/** Runs one case; returns a failure text or undefined. */
export function codecCase(rand: Rand, stats: CodecStats): string | undefined {
  const bytes = rand() < 0.25 ? validPacket(rand) : hostileDatagram(rand);
  stats.cases++;
  let p: Packet;
  try {
    p = decodePacket(bytes);
  } catch (e) {
    if (e instanceof TftpError) {
      stats.refused++;
      return undefined;
    }
    return `decode threw ${(e as Error)?.name}: ${(e as Error)?.message} on ${hex(bytes)}`;
  }
  stats.decoded++;
  let again: Uint8Array;
  try {
    again = encodePacket(p);
  } catch (e) {
    return `encode of a decoded packet threw ${(e as Error)?.name}: ${(e as Error)?.message}; input ${hex(bytes)}`;
  }
  let p2: Packet;
  try {
    p2 = decodePacket(again);
  } catch (e) {
    return `re-decode of an encoding threw ${(e as Error)?.message}; input ${hex(bytes)}, encoding ${hex(again)}`;
  }
  if (p.op === 5 && p2.op === 5) {
    // The cut may split a UTF-8 sequence; from then on the encoding must be a fixpoint.
    if (p2.code !== p.code) return `ERROR code changed in a round trip: ${p.code} -> ${p2.code}`;
    const p3 = decodePacket(encodePacket(p2));
    if (!isDeepStrictEqual(p2, p3)) return `ERROR round trip is not a fixpoint; input ${hex(bytes)}`;
    return undefined;
  }
  if (!isDeepStrictEqual(comparable(p), comparable(p2))) {
    return `round trip differs: ${JSON.stringify(comparable(p)).slice(0, 200)} vs ${JSON.stringify(comparable(p2)).slice(0, 200)}; input ${hex(bytes)}`;
  }
  return undefined;
}
