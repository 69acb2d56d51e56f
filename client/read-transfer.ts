/**
 * The receiving side of an RRQ (RFC 1350, options per RFC 2347/2348/2349, windows per RFC 7440).
 * Pure: datagrams and timeouts in, datagrams and events out.
 *
 * Phases:
 *   requesting    RRQ sent (resent on timeout). The first reply locks the TID:
 *                   OACK  -> check it, ACK 0, transferring (or ERROR 8 + failed when unacceptable)
 *                   DATA  -> the server ignored our options: 512-byte blocks, lock-step
 *                   ERROR -> failed with the server's code and text
 *   transferring  expects block `received + 1` (mod 65536, so the count rolls over 65535 -> 0):
 *                   in order  -> deliver; ACK at the end of each window or on a short block
 *                   duplicate of the last in-order block -> re-ACK it (our ACK was lost)
 *                   ahead of order (a gap) -> ACK the last in-order block once, so the sender
 *                                restarts the window there (RFC 7440 section 4)
 *                   older      -> ignore
 *                 timeout: ACK the last in-order block again; give up after `retries`.
 *   holding       (optional, load testing) after block 1, sit for holdMs without ACKing so that
 *                 the server keeps a session open; then ACK 1 and carry on.
 *   done          a block shorter than blksize arrived and was ACKed.
 *
 * Invariants: `received` counts in-order blocks (unbounded, never wraps); every ACK names
 * `received & 0xffff`; the data callback sees each byte once and in order.
 *
 * The hot path reads the opcode and block number straight from the datagram and hands the
 * payload on as a view: no decode object, no copy.
 */
import { ErrorCode, TftpError } from '../gateway/src/protocol/error-codes.js';
import { encodeAck, Opcode } from '../gateway/src/protocol/packet.js';
import { DEFAULT_BLOCK_SIZE } from '../gateway/src/protocol/options.js';
import { remoteError } from './errors.js';
import { TransferCore } from './transfer-core.js';
import type { MachineOptions, TransferMachine, TransferStats } from './types.js';

export interface ReadTransferOptions extends MachineOptions {
  /** Receives each in-order payload; a view into the datagram, valid as long as it is kept. */
  onData?: (chunk: Uint8Array) => void;
  holdAfterFirstBlockMs?: number;
}

export class ReadTransfer extends TransferCore implements TransferMachine {
  bytes = 0;
  /** In-order blocks received; also the last block number we may ACK (mod 65536). */
  received = 0;
  tsize: number | undefined;

  private readonly onData: ((chunk: Uint8Array) => void) | undefined;
  private readonly holdMs: number;
  /** In-order blocks since our last ACK; a full window triggers the next one. */
  private sinceAck = 0;
  /** The block we last answered a gap with; -1 when none since the last progress. */
  private gapAckedAt = -1;

  constructor(opts: ReadTransferOptions) {
    super(opts, Opcode.Rrq, opts.tsize ? 0 : undefined);
    this.onData = opts.onData;
    this.holdMs = opts.holdAfterFirstBlockMs ?? 0;
  }

  stats(): TransferStats {
    return {
      bytes: this.bytes,
      blocks: this.received,
      retransmits: this.retransmits,
      oack: this.oack,
      blockSize: this.blockSize,
      windowSize: this.windowSize,
    };
  }

  handleDatagram(buf: Uint8Array, address: string, port: number, nowMs: number): void {
    if (!this.acceptFrom(address, port)) return;
    if (buf.length < 4) {
      this.strayDatagrams++;
      return;
    }
    const op = (buf[0] << 8) | buf[1];
    if (op === Opcode.Data) {
      this.handleData(buf, (buf[2] << 8) | buf[3], nowMs);
      return;
    }
    this.handleControl(buf, op, nowMs);
  }

  handleTimeout(nowMs: number): void {
    if (!this.timeoutDue(nowMs)) return;
    if (this.phase === 'holding') {
      this.phase = 'transferring';
      this.ack(nowMs);
      return;
    }
    if (!this.spendRetry(nowMs)) return;
    if (this.phase === 'requesting') this.send(this.request);
    else this.sendAck();
  }

  private handleData(buf: Uint8Array, block: number, nowMs: number): void {
    if (this.phase === 'requesting') {
      // RFC 2347: DATA 1 instead of an OACK means the server ignored every option.
      this.blockSize = DEFAULT_BLOCK_SIZE;
      this.windowSize = 1;
      this.phase = 'transferring';
    } else if (this.phase === 'holding') {
      return; // the server resending block 1 while we deliberately keep quiet
    }
    const expected = (this.received + 1) & 0xffff;
    if (block === expected) {
      const length = buf.length - 4;
      if (length > this.blockSize) {
        this.abortWith(ErrorCode.IllegalOperation, new TftpError(ErrorCode.IllegalOperation, `DATA ${block} carries ${length} bytes, more than blksize ${this.blockSize}`));
        return;
      }
      this.received++;
      this.bytes += length;
      this.timeoutsInRow = 0;
      this.gapAckedAt = -1;
      this.sinceAck++;
      if (this.onData !== undefined && length > 0) this.onData(buf.subarray(4));
      if (length < this.blockSize) {
        // RFC 1350: a short block ends the transfer; ACK it and stop (no dally).
        this.sendAck();
        this.finish();
        return;
      }
      if (this.received === 1 && this.holdMs > 0) {
        this.phase = 'holding';
        this.deadlineMs = nowMs + this.holdMs;
        this.emit({ type: 'holding' });
        return;
      }
      if (this.sinceAck >= this.windowSize) this.ack(nowMs);
      else this.deadlineMs = nowMs + this.timeoutMs;
      return;
    }
    if (block === (this.received & 0xffff)) {
      // Our ACK for this block was lost and the server resent it (or the tail of its window).
      this.retransmits++;
      this.ack(nowMs);
      return;
    }
    const ahead = ((block - expected) & 0xffff) < 0x8000;
    if (ahead && this.gapAckedAt !== this.received) {
      // RFC 7440: a block went missing; ACK what we have so the window restarts after it.
      // One ACK per gap: the rest of the broken window would otherwise each trigger one.
      this.gapAckedAt = this.received;
      this.retransmits++;
      this.ack(nowMs);
    }
  }

  private handleControl(buf: Uint8Array, op: number, nowMs: number): void {
    const packet = this.decodeControl(buf);
    if (packet === undefined) return;
    switch (packet.op) {
      case Opcode.Oack: {
        if (this.phase !== 'requesting') {
          // Our ACK 0 was lost and the server repeated its OACK.
          if (this.received === 0) this.ack(nowMs);
          return;
        }
        if (Object.keys(this.requested).length === 0) {
          this.abortWith(ErrorCode.OptionRefused, new TftpError(ErrorCode.OptionRefused, 'OACK to a request without options'));
          return;
        }
        const accepted = this.acceptOack(packet.options);
        if (!accepted) return;
        this.tsize = accepted.tsize;
        this.phase = 'transferring';
        this.timeoutsInRow = 0;
        this.ack(nowMs); // RFC 2347: ACK 0 confirms the OACK
        return;
      }
      case Opcode.Error:
        this.fail(remoteError(packet.code, packet.message));
        return;
      default:
        this.abortWith(ErrorCode.IllegalOperation, new TftpError(ErrorCode.IllegalOperation, `unexpected opcode ${op} during a read`));
    }
  }

  private ack(nowMs: number): void {
    this.sendAck();
    this.deadlineMs = nowMs + this.timeoutMs;
  }

  private sendAck(): void {
    this.sinceAck = 0;
    this.send(encodeAck(this.received & 0xffff));
  }
}
