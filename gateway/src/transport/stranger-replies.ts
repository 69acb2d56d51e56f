/**
 * ERROR 5 ("unknown transfer id") to a stranger's DATA/ACK, RFC 1350 §4. Each reply is a
 * datagram a spoofer can aim at a victim, so all sockets (listeners and sessions' TIDs) share
 * one token bucket (strangerRepliesPerSecond); beyond it the reply is counted and dropped.
 */
import type dgram from 'node:dgram';
import { performance } from 'node:perf_hooks';
import { ErrorCode } from '../protocol/error-codes.js';
import { encodeError } from '../protocol/packet.js';
import { TokenBucket } from '../admission/token-bucket.js';
import type { ServerCounters } from '../stats/counters.js';

/** Sends one ERROR packet; never to port 0 (nothing can listen there, and send() would throw). */
export function replyError(socket: dgram.Socket, to: { address: string; port: number }, code: number, message: string): void {
  if (to.port === 0) return;
  socket.send(encodeError(code, message), to.port, to.address);
}

export class StrangerReplies {
  private readonly bucket: TokenBucket;

  constructor(ratePerSecond: number, private readonly counters: ServerCounters) {
    this.bucket = new TokenBucket({ ratePerSecond, burst: Math.max(1, ratePerSecond) }, performance.now());
  }

  /** Counts the stranger's packet and answers it, unless the shared reply rate is spent. */
  answer(socket: dgram.Socket, to: { address: string; port: number }): void {
    this.counters.strangerPackets++;
    if (!this.bucket.take(performance.now())) {
      this.counters.strangerRepliesSuppressed++;
      return;
    }
    replyError(socket, to, ErrorCode.UnknownTransferId, 'unknown transfer id');
  }
}
