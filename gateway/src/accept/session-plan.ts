/**
 * The pure part of accepting a request: what was asked (options, size) and our policy in, the
 * negotiated options, the buffer reservation and the session object out. No sockets, no clock
 * (the caller passes nowMs), so test/unit/accept/session-plan.test.ts checks each cap directly.
 *
 * The caps (issue 9, docs/RELIABILITY.md):
 *  - single-port mode keeps blocks to an Ethernet frame by default (singlePortMaxBlockSize):
 *    every ACK there can be forged blind and each buys up to a block;
 *  - bytes in flight per session are bounded (maxWindowBytes, singlePortMaxWindowBytes), and the
 *    OACK states the lowered windowsize, since an RFC 7440 client ACKs once per window and would
 *    wait for the rest;
 *  - RFC 2349: the client's timeout is acknowledged as asked, but our own retransmit timer is
 *    capped by maxTimeoutMs: a spoofed "timeout 255" must not hold a session for minutes;
 *  - slow start only where an ACK proves the peer (ackIsEvidence: a secret per-session port),
 *    or where the operator opted in (singlePortSlowStart).
 */
import { negotiate, parseRefuseList, type Negotiated, type NegotiationLimits } from '../protocol/options.js';
import type { OptionMap } from '../protocol/packet.js';
import type { TftpRequest } from '../handlers/request.js';
import { ReadSession, type ReadSessionConfig } from '../session/read-session.js';
import { WriteSession, type WriteSessionConfig } from '../session/write-session.js';
import type { Session, SessionTimingConfig } from '../session/types.js';
import type { GatewayConfig } from '../config/schema.js';
import { sessionBufferBytes } from '../admission/buffer-budget.js';

export type PlanConfig = Pick<
  GatewayConfig,
  | 'maxBlockSize'
  | 'maxWindowSize'
  | 'refuse'
  | 'timeoutMs'
  | 'retries'
  | 'firstPacketRetries'
  | 'backoffFactor'
  | 'maxTimeoutMs'
  | 'unprovenRetries'
  | 'minProgressBytes'
  | 'progressIntervalMs'
  | 'maxSessionMs'
  | 'singlePort'
  | 'singlePortMaxBlockSize'
  | 'singlePortMaxWindowBytes'
  | 'maxWindowBytes'
  | 'singlePortSlowStart'
  | 'slowStartBlocks'
  | 'maxUploadBytes'
>;

/** Received-but-unwritten upload bytes past which a write session holds its ACK (issue 15). */
export const UPLOAD_UNWRITTEN_BYTES = 1024 * 1024;

export class SessionPlan {
  private readonly limits: NegotiationLimits;
  private readonly timing: SessionTimingConfig;
  /** Payload bytes in flight per session (single-port mode has its own, lower cap). */
  readonly windowBytesCap: number;

  /** `ackIsEvidence`: a valid ACK at a session's port proves the peer reads our packets (TidSockets.portIsSecret). */
  constructor(private readonly config: PlanConfig, readonly ackIsEvidence: boolean) {
    this.limits = { maxBlockSize: config.maxBlockSize, maxWindowSize: config.maxWindowSize, refuse: parseRefuseList(config.refuse) };
    this.timing = {
      timeoutMs: config.timeoutMs,
      maxRetries: config.retries,
      firstPacketRetries: config.firstPacketRetries,
      backoffFactor: config.backoffFactor,
      maxTimeoutMs: config.maxTimeoutMs,
      unprovenRetries: config.unprovenRetries,
      minProgressBytes: config.minProgressBytes,
      progressIntervalMs: config.progressIntervalMs,
      maxSessionMs: config.maxSessionMs,
    };
    this.windowBytesCap = config.singlePort ? config.singlePortMaxWindowBytes : config.maxWindowBytes;
  }

  /** RFC 2347/2348/2349/7440 negotiation under our caps; throws a TftpError (ERROR 8) on a refusal. */
  negotiate(kind: 'read' | 'write', options: OptionMap, sizeBytes: number | undefined): Negotiated {
    const limits = this.config.singlePort ? { ...this.limits, maxBlockSize: Math.min(this.limits.maxBlockSize, this.config.singlePortMaxBlockSize) } : this.limits;
    let negotiated = negotiate(kind, options, limits, sizeBytes);
    const fit = Math.max(1, Math.floor(this.windowBytesCap / negotiated.blockSize));
    if (negotiated.windowSize > fit) {
      negotiated = negotiate(kind, options, { ...limits, maxWindowSize: Math.min(limits.maxWindowSize, fit) }, sizeBytes);
    }
    return negotiated;
  }

  /**
   * Bytes to reserve from the buffer budget at the start. A read session's window starts at
   * slowStartBlocks where an ACK proves the peer, and the reservation grows with it
   * (BudgetedSession); elsewhere the window grows an ACK at a time, so the whole of it is
   * reserved now rather than failing mid-transfer. netascii may double the bytes (every LF
   * becomes CR LF), so the source size only bounds octet.
   */
  reservationBytes(request: Pick<TftpRequest, 'kind' | 'mode'>, negotiated: Pick<Negotiated, 'blockSize' | 'windowSize'>, sourceBytes: number | undefined): number {
    const windowBlocks = request.kind === 'read' && this.ackIsEvidence ? Math.min(negotiated.windowSize, this.config.slowStartBlocks) : negotiated.windowSize;
    return sessionBufferBytes({ blockSize: negotiated.blockSize, windowSize: windowBlocks, sourceBytes: request.mode === 'octet' ? sourceBytes : undefined });
  }

  /** Our retransmit timing for a session: the client's RFC 2349 timeout, capped by maxTimeoutMs. */
  timingFor(negotiated: Pick<Negotiated, 'timeoutMs'>): SessionTimingConfig {
    // Not on the accept path (session() builds its config as one literal), so a spread is fine here.
    return negotiated.timeoutMs ? { ...this.timing, timeoutMs: this.timeoutMsFor(negotiated) } : this.timing;
  }

  /**
   * The pure session for an accepted request. Its config is written out field by field, not
   * spread: on Node 20 `{ ...timing, blockSize, ... }` cost 11-20 µs per session (V8 builds a
   * fresh map for a spread followed by more properties), about 3% of a 1 KiB transfer's CPU and
   * a good share of its garbage; a plain literal costs 0.2 µs. Both kinds get the same literal
   * (each reads only its own fields), so there is one copy of the field list and one map.
   */
  session(kind: 'read' | 'write', negotiated: Negotiated, nowMs: number): Session {
    const t = this.timing;
    const cfg: ReadSessionConfig & WriteSessionConfig = {
      timeoutMs: this.timeoutMsFor(negotiated),
      maxRetries: t.maxRetries,
      firstPacketRetries: t.firstPacketRetries,
      unprovenRetries: t.unprovenRetries,
      backoffFactor: t.backoffFactor,
      maxTimeoutMs: t.maxTimeoutMs,
      minProgressBytes: t.minProgressBytes,
      progressIntervalMs: t.progressIntervalMs,
      maxSessionMs: t.maxSessionMs,
      blockSize: negotiated.blockSize,
      windowSize: negotiated.windowSize,
      oack: negotiated.oack,
      // Write only.
      maxBytes: this.config.maxUploadBytes,
      // Backpressure for uploads (issue 15): past this many received-but-unwritten bytes the
      // window's ACK waits for the sink (write-session.ts maxUnwrittenBytes).
      maxUnwrittenBytes: UPLOAD_UNWRITTEN_BYTES,
      // Read only.
      maxWindowBytes: this.windowBytesCap,
      // Where ACKs prove nothing, a window smaller than the negotiated one stalls RFC 7440
      // clients (they ACK at the end of their window or on their own timeout: 1 MiB took
      // 4.3 s instead of 28 ms with atftp, windowsize 16): opt-in there (singlePortSlowStart).
      slowStartBlocks: this.ackIsEvidence || this.config.singlePortSlowStart ? this.config.slowStartBlocks : undefined,
      ackIsEvidence: this.ackIsEvidence,
    };
    return kind === 'write' ? new WriteSession(cfg, nowMs) : new ReadSession(cfg, nowMs);
  }

  /** The client's RFC 2349 timeout where it sent one, capped by maxTimeoutMs; else ours. */
  private timeoutMsFor(negotiated: Pick<Negotiated, 'timeoutMs'>): number {
    return negotiated.timeoutMs ? Math.min(negotiated.timeoutMs, this.timing.maxTimeoutMs) : this.timing.timeoutMs;
  }
}
