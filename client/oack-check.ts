/**
 * Client-side checks of an OACK against what we asked for. Pure.
 *
 * RFC 2347: a server may only acknowledge options the client sent, and the client must refuse an
 * OACK it cannot live with by sending ERROR 8. RFC 2348 lets blksize come back lower, never
 * higher; RFC 7440 the same for windowsize; RFC 2349 wants timeout echoed unchanged.
 */
import { ErrorCode, TftpError } from '../gateway/src/protocol/error-codes.js';
import type { OptionMap } from '../gateway/src/protocol/packet.js';
import { PROTOCOL_MIN_BLOCK_SIZE } from '../gateway/src/protocol/options.js';

export interface AcceptedOack {
  blockSize: number;
  windowSize: number;
  /** The size the server announced (RRQ), when it did. */
  tsize: number | undefined;
}

const DIGITS = /^[0-9]{1,10}$/;

function refuse(why: string): TftpError {
  return new TftpError(ErrorCode.OptionRefused, why);
}

function num(name: string, raw: string): number {
  const s = raw.trim();
  if (!DIGITS.test(s)) throw refuse(`OACK ${name} "${raw.slice(0, 16)}" is not a number`);
  return Number(s);
}

/**
 * @param requested the options our RRQ/WRQ carried (lower-case keys)
 * @throws TftpError(8) naming the offending option
 */
export function checkOack(requested: OptionMap, oack: OptionMap, defaultBlockSize = 512): AcceptedOack {
  let blockSize = defaultBlockSize;
  let windowSize = 1;
  let tsize: number | undefined;
  for (const [name, raw] of Object.entries(oack)) {
    const asked = requested[name];
    if (asked === undefined) throw refuse(`OACK carries option ${name} we did not request`);
    switch (name) {
      case 'blksize': {
        const v = num(name, raw);
        if (v < PROTOCOL_MIN_BLOCK_SIZE || v > Number(asked)) throw refuse(`OACK blksize ${v} outside 8..${asked}`);
        blockSize = v;
        break;
      }
      case 'windowsize': {
        const v = num(name, raw);
        if (v < 1 || v > Number(asked)) throw refuse(`OACK windowsize ${v} outside 1..${asked}`);
        windowSize = v;
        break;
      }
      case 'timeout':
        if (num(name, raw) !== Number(asked)) throw refuse(`OACK timeout ${raw} differs from ${asked}`);
        break;
      case 'tsize':
        tsize = num(name, raw);
        break;
      default:
        // An option we sent but do not interpret (none today): accept it silently.
        break;
    }
  }
  return { blockSize, windowSize, tsize };
}
