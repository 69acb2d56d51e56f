/**
 * The sending side of a WRQ (RFC 1350, options per RFC 2347/2348/2349, windows per RFC 7440).
 * Pure: datagrams and timeouts in, datagrams and events out.
 *
 * Phases:
 *   requesting    WRQ sent (resent on timeout). The first reply locks the TID:
 *                   OACK  -> check it, send the first window
 *                   ACK 0 -> the server ignored our options: 512-byte blocks, lock-step
 *                   ERROR -> failed
 *   transferring  blocks `acked+1 .. acked+windowSize` are in flight (go-back-N):
 *                   ACK n inside the flight -> acked = n; send the next window from n + 1
 *                   (a mid-window ACK means the receiver saw a gap, RFC 7440)
 *                   ACK of `acked` again    -> ignored: never resend on a duplicate ACK, the
 *                                              Sorcerer's Apprentice bug (RFC 1123 4.2.3.1)
 *                 timeout: resend the window from acked + 1.
 *   done          the last block (shorter than blksize, possibly empty) is ACKed.
 *
 * Invariants: `acked <= sent <= totalBlocks`; block numbers on the wire are the counts mod 65536.
 */
import { ErrorCode, TftpError } from '../gateway/src/protocol/error-codes.js';
import { encodeData, Opcode } from '../gateway/src/protocol/packet.js';
import { remoteError } from './errors.js';
import { TransferCore } from './transfer-core.js';
import type { MachineOptions, TransferMachine, TransferStats } from './types.js';

export interface WriteTransferOptions extends MachineOptions {
  /** The bytes to send, already netascii-encoded when mode is netascii. */
  data: Uint8Array;
}

export class WriteTransfer extends TransferCore implements TransferMachine {
  /** Blocks the server has ACKed. */
  acked = 0;
  /** Highest block sent so far. */
  private sent = 0;
  private totalBlocks = 0;

  constructor(private readonly opts: WriteTransferOptions) {
    super(opts, Opcode.Wrq, opts.tsize ? opts.data.length : undefined);
  }

  stats(): TransferStats {
    const bytes = Math.min(this.acked * this.blockSize, this.opts.data.length);
    return { bytes, blocks: this.acked, retransmits: this.retransmits, oack: this.oack, blockSize: this.blockSize, windowSize: this.windowSize };
  }

  handleDatagram(buf: Uint8Array, address: string, port: number, nowMs: number): void {
    if (!this.acceptFrom(address, port)) return;
    if (buf.length >= 4 && buf[0] === 0 && buf[1] === Opcode.Ack) {
      this.handleAck((buf[2] << 8) | buf[3], nowMs);
      return;
    }
    const packet = this.decodeControl(buf);
    if (packet === undefined) return;
    if (packet.op === Opcode.Error) {
      this.fail(remoteError(packet.code, packet.message));
    } else if (packet.op === Opcode.Oack) {
      if (this.phase !== 'requesting') return; // a repeat; our first DATA answers it
      if (!this.acceptOack(packet.options)) return;
      this.begin(nowMs);
    } else {
      this.abortWith(ErrorCode.IllegalOperation, new TftpError(ErrorCode.IllegalOperation, `unexpected opcode ${packet.op} during a write`));
    }
  }

  handleTimeout(nowMs: number): void {
    if (!this.timeoutDue(nowMs)) return;
    if (!this.spendRetry(nowMs)) return;
    if (this.phase === 'requesting') {
      this.send(this.request);
      return;
    }
    this.retransmits += Math.max(0, this.sent - this.acked - 1);
    this.sent = this.acked;
    this.sendWindow();
  }

  private begin(nowMs: number): void {
    this.phase = 'transferring';
    // RFC 1350: the last block is short, so a size that is a multiple of blksize ends with an
    // empty block.
    this.totalBlocks = Math.floor(this.opts.data.length / this.blockSize) + 1;
    this.timeoutsInRow = 0;
    this.deadlineMs = nowMs + this.timeoutMs;
    this.sendWindow();
  }

  private handleAck(block: number, nowMs: number): void {
    if (this.phase === 'requesting') {
      if (block !== 0) return;
      // ACK 0 instead of an OACK: options ignored (RFC 2347).
      this.begin(nowMs);
      return;
    }
    const inFlight = this.sent - this.acked;
    const advance = (block - (this.acked & 0xffff)) & 0xffff;
    if (advance === 0 || advance > inFlight) return; // duplicate or stale ACK
    this.acked += advance;
    this.timeoutsInRow = 0;
    this.deadlineMs = nowMs + this.timeoutMs;
    if (this.acked === this.totalBlocks) {
      this.finish();
      return;
    }
    if (this.acked < this.sent) {
      // A mid-window ACK: the receiver lost a block; go back to the one after it.
      this.retransmits += this.sent - this.acked;
      this.sent = this.acked;
      this.sendWindow();
    } else if (this.sent - this.acked < this.windowSize) {
      this.sendWindow();
    }
  }

  /** Sends blocks sent+1 .. min(acked+windowSize, totalBlocks). */
  private sendWindow(): void {
    const last = Math.min(this.acked + this.windowSize, this.totalBlocks);
    const data = this.opts.data;
    while (this.sent < last) {
      const index = this.sent; // zero-based block index
      const start = index * this.blockSize;
      this.send(encodeData((index + 1) & 0xffff, data.subarray(start, Math.min(start + this.blockSize, data.length))));
      this.sent++;
    }
  }
}
