/**
 * Builds the option list of an RRQ/WRQ (RFC 2347) from what the caller asked for. Pure.
 */
import type { OptionMap } from '../gateway/src/protocol/packet.js';
import { PROTOCOL_MAX_BLOCK_SIZE, PROTOCOL_MAX_WINDOW_SIZE, PROTOCOL_MIN_BLOCK_SIZE } from '../gateway/src/protocol/options.js';

export interface RequestOptionInput {
  /** blksize to ask for (RFC 2348); omitted means the 512-byte default, no option. */
  blockSize?: number;
  /** windowsize to ask for (RFC 7440); omitted or 1 sends no option. */
  windowSize?: number;
  /** RRQ: ask for the size with tsize=0. WRQ: the size we will send. */
  tsize?: number;
  /** RFC 2349 timeout in whole seconds, asking the server to wait that long before resending. */
  timeoutSeconds?: number;
}

export function buildRequestOptions(input: RequestOptionInput): OptionMap {
  const options: OptionMap = {};
  const { blockSize, windowSize, tsize, timeoutSeconds } = input;
  if (blockSize !== undefined) {
    if (!Number.isInteger(blockSize) || blockSize < PROTOCOL_MIN_BLOCK_SIZE || blockSize > PROTOCOL_MAX_BLOCK_SIZE) {
      throw new RangeError(`blksize ${blockSize} is outside RFC 2348's ${PROTOCOL_MIN_BLOCK_SIZE}..${PROTOCOL_MAX_BLOCK_SIZE}`);
    }
    options.blksize = String(blockSize);
  }
  if (windowSize !== undefined && windowSize !== 1) {
    if (!Number.isInteger(windowSize) || windowSize < 1 || windowSize > PROTOCOL_MAX_WINDOW_SIZE) {
      throw new RangeError(`windowsize ${windowSize} is outside RFC 7440's 1..${PROTOCOL_MAX_WINDOW_SIZE}`);
    }
    options.windowsize = String(windowSize);
  }
  if (timeoutSeconds !== undefined) {
    if (!Number.isInteger(timeoutSeconds) || timeoutSeconds < 1 || timeoutSeconds > 255) {
      throw new RangeError(`timeout ${timeoutSeconds} is outside RFC 2349's 1..255 seconds`);
    }
    options.timeout = String(timeoutSeconds);
  }
  if (tsize !== undefined) options.tsize = String(tsize);
  return options;
}
