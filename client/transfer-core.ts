/**
 * What the read and write machines share: the request and its options, the outgoing queue, the
 * event queue, the retry deadline and the TID lock.
 *
 * TID (RFC 1350 section 4): the request goes to the server's well-known port; the first reply
 * comes from a fresh port, the server's transfer ID, and the client locks onto it. Anything that
 * arrives later from another address or port is answered with ERROR 5 and otherwise ignored; the
 * transfer goes on.
 */
import { ErrorCode, TftpError } from '../gateway/src/protocol/error-codes.js';
import { decodePacket, encodeError, encodePacket, type OptionMap, type Packet, type RequestPacket } from '../gateway/src/protocol/packet.js';
import { DEFAULT_BLOCK_SIZE } from '../gateway/src/protocol/options.js';
import { TransferTimeoutError } from './errors.js';
import { checkOack, type AcceptedOack } from './oack-check.js';
import { buildRequestOptions } from './request-options.js';
import type { MachineOptions, Transmit, TransferEvent } from './types.js';

export type Phase = 'idle' | 'requesting' | 'holding' | 'transferring' | 'done' | 'failed';

export abstract class TransferCore {
  protected phase: Phase = 'idle';
  protected deadlineMs: number | undefined;
  /** Timeouts in a row without progress; reset by every step forward. */
  protected timeoutsInRow = 0;
  /** What negotiation settled (RFC 2347/2348/7440): the defaults until an OACK says otherwise. */
  blockSize = DEFAULT_BLOCK_SIZE;
  windowSize = 1;
  oack: OptionMap | null = null;
  retransmits = 0;
  /** Datagrams from strangers or that did not parse, answered or dropped. */
  strayDatagrams = 0;

  private readonly transmits: Transmit[] = [];
  private readonly events: TransferEvent[] = [];
  private peerAddress: string;
  private peerPort: number;
  private tidLocked = false;

  /** The RRQ or WRQ, encoded once; sent at start and again on a timeout. */
  protected readonly request: Uint8Array;
  /** The options the request asked for: what an OACK is checked against. */
  protected readonly requested: OptionMap;
  protected readonly timeoutMs: number;
  protected readonly retries: number;

  /**
   * `op` is the request's opcode; `tsize` is the RRQ's 0 (asking for the size, RFC 2349) or the
   * WRQ's byte count, undefined when not asked for.
   */
  constructor(opts: MachineOptions, op: RequestPacket['op'], tsize: number | undefined) {
    this.peerAddress = opts.serverAddress;
    this.peerPort = opts.serverPort;
    this.timeoutMs = opts.timeoutMs;
    this.retries = opts.retries;
    this.requested = buildRequestOptions({
      blockSize: opts.blockSize,
      windowSize: opts.windowSize,
      timeoutSeconds: opts.timeoutSeconds,
      tsize,
    });
    this.request = encodePacket({ op, filename: opts.filename, mode: opts.mode ?? 'octet', options: this.requested });
  }

  /**
   * Takes the server's OACK: checks it against what we asked (oack-check.ts) and adopts the
   * block and window size. An OACK we cannot accept aborts the transfer with ERROR 8 and gives
   * undefined.
   */
  protected acceptOack(options: OptionMap): AcceptedOack | undefined {
    let accepted: AcceptedOack;
    try {
      accepted = checkOack(this.requested, options);
    } catch (e) {
      this.abortWith(ErrorCode.OptionRefused, e as TftpError);
      return undefined;
    }
    this.blockSize = accepted.blockSize;
    this.windowSize = accepted.windowSize;
    this.oack = options;
    return accepted;
  }

  /** Sends the request to the server's well-known port and arms the first timeout. */
  start(nowMs: number): void {
    if (this.phase !== 'idle') return;
    this.phase = 'requesting';
    this.send(this.request);
    this.deadlineMs = nowMs + this.timeoutMs;
  }

  pollTransmit(): Transmit | undefined {
    return this.transmits.shift();
  }

  pollEvent(): TransferEvent | undefined {
    return this.events.shift();
  }

  pollTimeout(): number | undefined {
    return this.phase === 'done' || this.phase === 'failed' ? undefined : this.deadlineMs;
  }

  get finished(): boolean {
    return this.phase === 'done' || this.phase === 'failed';
  }

  /** The server's transfer port once locked (undefined before the first reply). */
  get tid(): number | undefined {
    return this.tidLocked ? this.peerPort : undefined;
  }

  handleAbort(error: Error): void {
    if (this.finished) return;
    // Tell a locked peer so it frees its session now instead of after its retries.
    if (this.tidLocked) this.send(encodeError(ErrorCode.NotDefined, 'transfer aborted by client'));
    this.fail(error);
  }

  /**
   * Applies the TID rule. Returns true when the datagram belongs to this transfer, which takes
   * none before start() or after its end. Only the configured server address may start the lock.
   */
  protected acceptFrom(address: string, port: number): boolean {
    if (this.finished || this.phase === 'idle') return false;
    if (this.tidLocked) {
      if (port === this.peerPort && address === this.peerAddress) return true;
    } else if (address === this.peerAddress) {
      this.peerPort = port;
      this.tidLocked = true;
      return true;
    }
    this.strayDatagrams++;
    // RFC 1350: "the source of the incorrect packet" gets ERROR 5; the transfer is unaffected.
    this.transmits.push({ bytes: encodeError(ErrorCode.UnknownTransferId, 'unknown transfer ID'), address, port });
    return false;
  }

  /** Decodes a datagram off the hot path; one that does not parse is counted as stray and gives undefined. */
  protected decodeControl(buf: Uint8Array): Packet | undefined {
    try {
      return decodePacket(buf);
    } catch {
      this.strayDatagrams++;
      return undefined;
    }
  }

  protected send(bytes: Uint8Array): void {
    this.transmits.push({ bytes, address: this.peerAddress, port: this.peerPort });
  }

  protected emit(event: TransferEvent): void {
    this.events.push(event);
  }

  protected finish(): void {
    this.phase = 'done';
    this.deadlineMs = undefined;
    this.emit({ type: 'done' });
  }

  protected fail(error: Error): void {
    if (this.finished) return;
    this.phase = 'failed';
    this.deadlineMs = undefined;
    this.emit({ type: 'failed', error });
  }

  /** Sends ERROR to the peer and fails with the same error locally. */
  protected abortWith(code: ErrorCode, error: Error): void {
    this.send(encodeError(code, error.message));
    this.fail(error);
  }

  /** The deadline has passed on a live transfer (handleTimeout may be called early). */
  protected timeoutDue(nowMs: number): boolean {
    return this.deadlineMs !== undefined && nowMs >= this.deadlineMs && !this.finished;
  }

  /** Counts one timeout; returns false (after failing) when retries are used up. */
  protected spendRetry(nowMs: number): boolean {
    if (++this.timeoutsInRow > this.retries) {
      this.fail(new TransferTimeoutError(this.retries + 1, this.timeoutMs));
      return false;
    }
    this.retransmits++;
    this.deadlineMs = nowMs + this.timeoutMs;
    return true;
  }
}
