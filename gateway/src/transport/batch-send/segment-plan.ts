/**
 * Which datagrams of a window can leave together as one UDP GSO send (pure, no I/O).
 *
 * With UDP_SEGMENT (Linux >= 4.18, udp(7)) one sendmsg carries a buffer that the kernel cuts
 * into datagrams of `segmentBytes` each. A TFTP window is mostly equal-size DATA blocks to one
 * peer, so a run of equal-size consecutive datagrams becomes one send. Limits, as quinn-udp
 * (`quinn-udp/src/linux.rs`, `unix.rs`) and the kernel's udp_send_skb state them:
 *  - at most UDP_MAX_SEGMENTS = 64 segments per send;
 *  - at most 65,507 bytes per send (an IPv4 datagram's largest UDP payload: the kernel checks the
 *    whole buffer against it before segmenting), so 44 blocks of 1468 bytes (1472 with the header);
 *  - a block larger than half of that gains nothing: it goes alone, as before.
 * The last short block of a transfer goes on its own (the kernel would accept a shorter last
 * segment, but a run of exactly equal sizes is the simpler invariant to test and to reason about).
 */
import type { Datagram } from '../../session/types.js';

/** linux/udp.h UDP_MAX_SEGMENTS. */
export const MAX_GSO_SEGMENTS = 64;
/** 65535 - 20 (IPv4 header) - 8 (UDP header): the largest buffer one GSO send may carry. */
export const MAX_GSO_BYTES = 65_507;

/** A run of datagrams [start, end) of the window: one GSO send when `segmentBytes` is set. */
export interface SendRun {
  start: number;
  end: number;
  /** Set when the run is 2+ equal-size datagrams sent as one GSO send. */
  segmentBytes?: number;
}

export function datagramLength(d: Datagram): number {
  if (d instanceof Uint8Array) return d.length;
  let n = 0;
  for (const part of d) n += part.length;
  return n;
}

/** Splits a window into GSO runs and single datagrams, in order; every datagram in exactly one run. */
export function planRuns(datagrams: readonly Datagram[], maxSegments = MAX_GSO_SEGMENTS, maxBytes = MAX_GSO_BYTES): SendRun[] {
  const runs: SendRun[] = [];
  let i = 0;
  while (i < datagrams.length) {
    const size = datagramLength(datagrams[i]);
    const limit = size > 0 ? Math.min(maxSegments, Math.floor(maxBytes / size)) : 1;
    let j = i + 1;
    while (j < datagrams.length && j - i < limit && datagramLength(datagrams[j]) === size) j++;
    runs.push(j - i >= 2 ? { start: i, end: j, segmentBytes: size } : { start: i, end: j });
    i = j;
  }
  return runs;
}
