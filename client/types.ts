/**
 * Shapes shared by the client's pure transfer machines and their dgram driver.
 */
import type { OptionMap, TransferMode } from '../gateway/src/protocol/packet.js';

/** One datagram the driver must send. */
export interface Transmit {
  bytes: Uint8Array;
  address: string;
  port: number;
}

export type TransferEvent =
  | { type: 'done' }
  | { type: 'failed'; error: Error }
  /** A read transfer stopped after block 1 on purpose (holdAfterFirstBlockMs). */
  | { type: 'holding' };

/**
 * The quinn-proto-style surface both machines share: feed inputs with handle*,
 * then drain poll* until empty. No sockets, no timers, no clock.
 */
export interface TransferMachine {
  start(nowMs: number): void;
  handleDatagram(bytes: Uint8Array, address: string, port: number, nowMs: number): void;
  /** May be called early; the machine ignores a timeout before its deadline. */
  handleTimeout(nowMs: number): void;
  /** Ends the transfer locally (abort); queues an ERROR to the peer when one is locked. */
  handleAbort(error: Error): void;
  pollTransmit(): Transmit | undefined;
  /** Absolute deadline in ms, or undefined when finished. */
  pollTimeout(): number | undefined;
  pollEvent(): TransferEvent | undefined;
}

/** What a finished transfer reports, read or write. */
export interface TransferStats {
  /** DATA payload bytes moved, as on the wire (before netascii translation). */
  bytes: number;
  /** DATA blocks moved in order, not counting duplicates or retransmissions. */
  blocks: number;
  /** Packets we sent again after a timeout or a gap. */
  retransmits: number;
  /** The server's OACK, or null when it ignored our options (RFC 2347). */
  oack: OptionMap | null;
  /** Negotiated block size in bytes. */
  blockSize: number;
  /** Negotiated window size in blocks (RFC 7440); 1 is lock-step. */
  windowSize: number;
}

/** What both transfer machines are built with: the server, the request's options, our timer. */
export interface MachineOptions {
  serverAddress: string;
  serverPort: number;
  filename: string;
  mode?: TransferMode;
  blockSize?: number;
  windowSize?: number;
  /** Ask for the size (read: tsize=0) or announce it (write), RFC 2349. */
  tsize?: boolean;
  /** RFC 2349 timeout option to request, in seconds. */
  timeoutSeconds?: number;
  /** Our own retransmit timer. */
  timeoutMs: number;
  /** Timeouts in a row before giving up. */
  retries: number;
}

/** What every transfer (get or put) is told: where, which options to ask for, how to retry. */
export interface TransferOptions {
  host: string;
  port?: number;
  path: string;
  blksize?: number;
  windowsize?: number;
  /** Our retransmit timer; default 1000 ms. */
  timeoutMs?: number;
  /** Timeouts in a row before giving up; default 5. */
  retries?: number;
  /** RFC 2349 timeout to request from the server, in seconds. */
  timeoutSeconds?: number;
  mode?: TransferMode;
  signal?: AbortSignal;
  localAddress?: string;
}
