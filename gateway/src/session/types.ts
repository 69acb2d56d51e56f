/**
 * Inputs, outputs and records shared by the pure read and write session state machines.
 * Nothing here touches a socket, a timer or a clock: `now` is always passed in (ms).
 */
import type { ErrorCode, TftpError } from '../protocol/error-codes.js';
import type { Packet } from '../protocol/packet.js';
import type { Outcome } from './outcome.js';
import type { ProgressConfig } from './progress.js';

export type SessionInput =
  | { type: 'packet'; packet: Packet }
  | { type: 'timeout' }
  /** Bytes from the source (read session). */
  | { type: 'data'; chunk: Uint8Array }
  /** The source has no more bytes (read session). */
  | { type: 'end' }
  /** The sink has durably stored the upload (write session). */
  | { type: 'committed' }
  /** The sink has taken `bytes` more of the DATA payload (write session): an ACK held for it may go. */
  | { type: 'written'; bytes: number }
  /** The source or sink failed; the error's text goes on the wire. */
  | { type: 'sourceError'; error: TftpError }
  /**
   * The peer repeated its request (same bytes, same address and port) before acknowledging
   * anything: our first packet was lost, so it is sent again. One answer per request keeps an
   * unproven peer's traffic at one reply per datagram it sent.
   */
  | { type: 'repeatRequest' };

/** How a session ended: defined in outcome.ts, re-exported here for existing importers. */
export type { Outcome } from './outcome.js';

export interface SessionCounters {
  /** Payload bytes (DATA contents) sent or received, excluding retransmits. */
  bytes: number;
  /** Distinct DATA blocks sent or received. */
  blocks: number;
  /** Datagrams sent, including retransmits, OACK and ACKs. */
  packetsSent: number;
  /** Datagrams sent again after a timeout or a gap. */
  retransmits: number;
  /** ACKs (read) or DATA (write) that repeated one already handled. */
  duplicates: number;
  /** Datagrams from the peer that made no sense at this point and were ignored. */
  ignored: number;
}

export type SessionEvent =
  /**
   * Read session: send at least `minBytes` more bytes when you can. `releasedBytes`: the session
   * no longer holds any of the first that many source bytes (all acknowledged), so the driver may
   * let the source reuse their buffers (ByteReader.release).
   */
  | { type: 'needData'; minBytes: number; releasedBytes?: number }
  /** Write session: append these bytes to the upload. */
  | { type: 'writeData'; chunk: Uint8Array }
  /** Write session: the last block arrived; commit, then answer with `committed`. */
  | { type: 'writeEnd' }
  | { type: 'done' }
  | { type: 'failed'; outcome: Outcome; errorCode?: ErrorCode; errorMessage?: string };

export interface SessionTimingConfig extends ProgressConfig {
  /** Retransmit timeout at start (the client's `timeout` option when it sent one). */
  readonly timeoutMs: number;
  /** Timeouts in a row before giving up, once the peer has acknowledged something. */
  readonly maxRetries: number;
  /**
   * Retransmits of the first packet on our own timer before any acknowledgement. Bounds what a
   * spoofed request can make us send (TFTP is a UDP reflection vector); a client that repeats
   * its request (`repeatRequest`) gets the first packet again whatever this says.
   */
  readonly firstPacketRetries: number;
  /**
   * Timeouts in a row once the peer has acknowledged something but has not yet proven that it
   * receives our packets (read session); each resends one block only. Absent: maxRetries.
   */
  readonly unprovenRetries?: number;
  /** Each timeout in a row multiplies the timeout by this (1 = fixed). */
  readonly backoffFactor: number;
  readonly maxTimeoutMs: number;
}

/**
 * One datagram to send: contiguous bytes, or parts sent together as one datagram (scatter/
 * gather), so a DATA block goes out as a 4-byte header plus a view of the source's bytes,
 * never copied.
 */
export type Datagram = Uint8Array | readonly Uint8Array[];

/** Contiguous bytes of a datagram (tests and tools; the transport sends parts as they are). */
export function datagramBytes(d: Datagram): Uint8Array {
  return d instanceof Uint8Array ? d : Buffer.concat(d as Uint8Array[]);
}

/** The pure session interface, quinn-proto style: handle inputs, then drain the poll* outputs. */
export interface Session {
  handle(input: SessionInput, now: number): void;
  pollTransmit(): Datagram | undefined;
  /** Absolute deadline (ms, same clock as `now`), or undefined when no timer is needed. */
  pollTimeout(): number | undefined;
  pollEvent(): SessionEvent | undefined;
  /** True once the session needs nothing more: no timer, no input. */
  readonly finished: boolean;
  /**
   * True once our last packet of the transfer has gone out (a read session's final DATA, once
   * the peer has acknowledged something; a write session's final ACK) or the session finished:
   * the same request again from the same address and port is then the peer's next transfer,
   * not a retransmission (issue 13).
   */
  readonly lastBlockSent?: boolean;
  readonly counters: Readonly<SessionCounters>;
}

export function newCounters(): SessionCounters {
  return { bytes: 0, blocks: 0, packetsSent: 0, retransmits: 0, duplicates: 0, ignored: 0 };
}
