/**
 * Option negotiation: blksize (RFC 2348), timeout and tsize (RFC 2349), windowsize (RFC 7440),
 * under the framework of RFC 2347. Pure.
 *
 * Negotiable limits (what the protocol allows and what this server offers) are kept apart from
 * local policy (retries, writes, workers), as rs-tftpd keeps OptionsProtocol from OptionsPrivate.
 */
import { ErrorCode, TftpError } from './error-codes.js';
import type { OptionMap } from './packet.js';

export const OPTION_NAMES = ['blksize', 'timeout', 'tsize', 'windowsize'] as const;
export type OptionName = (typeof OPTION_NAMES)[number];

export const PROTOCOL_MIN_BLOCK_SIZE = 8;
export const PROTOCOL_MAX_BLOCK_SIZE = 65464;
export const DEFAULT_BLOCK_SIZE = 512;
export const PROTOCOL_MAX_WINDOW_SIZE = 65535;

export interface NegotiationLimits {
  /** Largest blksize we agree to; larger requests are lowered to it. */
  readonly maxBlockSize: number;
  /** Largest windowsize we agree to; larger requests are lowered to it. */
  readonly maxWindowSize: number;
  /** Options never acknowledged (tftp-hpa --refuse), e.g. to hide tsize from broken firmware. */
  readonly refuse: ReadonlySet<OptionName>;
}

export interface Negotiated {
  /** Payload bytes per DATA block. */
  readonly blockSize: number;
  readonly windowSize: number;
  /** Retransmit timeout agreed with the client, when it asked for one. */
  readonly timeoutMs: number | undefined;
  /** tsize the client announced (WRQ) or we announced (RRQ). */
  readonly tsize: number | undefined;
  /** The OACK to send, or null when no option was accepted (RFC 2347: then no OACK). */
  readonly oack: OptionMap | null;
}

const DIGITS = /^[0-9]+$/;

/**
 * Parses an option value: a decimal digit string of any length. Leading zeros are allowed and
 * a number too large to hold exactly saturates to Infinity, so a huge request is simply "above
 * every maximum" (RFC 2348: a blksize above what we allow is answered with a smaller value,
 * not refused). Anything that is not digits (empty, signs, hex, exponents) is not a number at
 * all: ERROR 8.
 */
function parseNumber(name: string, raw: string): number {
  // Leading/trailing blanks are common enough in firmware to forgive; anything else is refused.
  const s = raw.trim();
  if (!DIGITS.test(s)) {
    throw new TftpError(ErrorCode.OptionRefused, `invalid value for option ${name}`);
  }
  const digits = s.replace(/^0+(?=.)/, '');
  // 2^53 has 16 digits: longer strings are past every limit here, so call them Infinity
  // (Number() alone would round them, and reach Infinity only past 309 digits).
  return digits.length > 16 ? Number.POSITIVE_INFINITY : Number(digits);
}

/**
 * Decides which requested options to accept and what values to use.
 *
 * @param kind    read (RRQ) or write (WRQ)
 * @param sizeBytes the exact size of what will be sent, when known (RRQ octet only)
 * @throws TftpError(8) for a known option whose value is not a decimal digit string
 * @throws TftpError(3) for a WRQ announcing a tsize past 2^53 bytes
 */
export function negotiate(
  kind: 'read' | 'write',
  requested: OptionMap,
  limits: NegotiationLimits,
  sizeBytes: number | undefined,
): Negotiated {
  const oack: OptionMap = {};
  let accepted = 0;
  let blockSize = DEFAULT_BLOCK_SIZE;
  let windowSize = 1;
  let timeoutMs: number | undefined;
  let tsize: number | undefined;

  const raw = (name: OptionName): string | undefined =>
    limits.refuse.has(name) ? undefined : requested[name];

  const blk = raw('blksize');
  if (blk !== undefined) {
    const v = parseNumber('blksize', blk);
    // RFC 2348: values below 8 are invalid, so the option is ignored; above our maximum we
    // lower it, and the OACK states exactly the value used (CVE-2019-5482 in libcurl).
    if (v >= PROTOCOL_MIN_BLOCK_SIZE) {
      blockSize = Math.min(v, PROTOCOL_MAX_BLOCK_SIZE, limits.maxBlockSize);
      oack.blksize = String(blockSize);
      accepted++;
    }
  }

  const win = raw('windowsize');
  if (win !== undefined) {
    const v = parseNumber('windowsize', win);
    // RFC 7440: 1..65535 blocks; outside that range the option is not acknowledged.
    if (v >= 1 && v <= PROTOCOL_MAX_WINDOW_SIZE) {
      windowSize = Math.max(1, Math.min(v, limits.maxWindowSize));
      oack.windowsize = String(windowSize);
      accepted++;
    }
  }

  const tmo = raw('timeout');
  if (tmo !== undefined) {
    const v = parseNumber('timeout', tmo);
    // RFC 2349: 1..255 seconds, acknowledged with the same value; outside that range (huge
    // digit strings included) the option is not acknowledged and our own timer applies.
    if (v >= 1 && v <= 255) {
      timeoutMs = v * 1000;
      oack.timeout = String(v);
      accepted++;
    }
  }

  const ts = raw('tsize');
  if (ts !== undefined) {
    const v = parseNumber('tsize', ts);
    if (kind === 'write') {
      // RFC 2349: on WRQ the client tells the size; we echo it. A size past 2^53 bytes (8 PiB)
      // cannot be stored anywhere, and cannot be echoed exactly: refuse it as too large.
      if (!Number.isSafeInteger(v)) throw new TftpError(ErrorCode.DiskFull, 'file too large');
      tsize = v;
      oack.tsize = String(v);
      accepted++;
    } else if (sizeBytes !== undefined) {
      // RFC 2349: on RRQ the client sends 0 and we answer the exact size. When the size is not
      // known (generated content, netascii) the option is left out rather than guessed. The
      // client's own value is not used, so any digit string will do.
      tsize = sizeBytes;
      oack.tsize = String(sizeBytes);
      accepted++;
    }
  }

  return { blockSize, windowSize, timeoutMs, tsize, oack: accepted > 0 ? oack : null };
}

/** Parses a refuse list such as "tsize,blksize"; throws naming the bad entry. */
export function parseRefuseList(items: readonly string[]): Set<OptionName> {
  const out = new Set<OptionName>();
  for (const item of items) {
    const name = item.trim().toLowerCase();
    if (!name) continue;
    if (!(OPTION_NAMES as readonly string[]).includes(name)) {
      throw new Error(`unknown option "${item}" in refuse list: use one of ${OPTION_NAMES.join(', ')}`);
    }
    out.add(name as OptionName);
  }
  return out;
}
