/**
 * What happens to a request admission refused (or a window the buffer budget could not grow).
 *
 * Counted exactly, by rule (refusalsByLimit) and by reason. Answered only when it is 'busy'
 * (ERROR 0): rate-limited and denied requests are the floods, and an answer to a forged source
 * address is reflection. Logged and recorded only when sampled, so a flood of refusals makes a
 * bounded number of lines and records plus one "suppressed K similar" summary per interval
 * (admission/refusal-sampler.ts), due even when the flood stopped; stop() writes what is left.
 */
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import { ErrorCode } from '../protocol/error-codes.js';
import type { TftpRequest } from '../transport/tftp-request.js';
import { newCounters } from '../session/types.js';
import type { ServerCounters } from '../stats/counters.js';
import type { SessionBus } from '../stats/session-bus.js';
import { buildRecord } from '../stats/session-record.js';
import { REASON_OF_LIMIT, type RefusalLimit, type RefusalReason } from './admission.js';
import { RefusalSampler, type SuppressedSummary } from './refusal-sampler.js';

/** What a 'busy' refusal says on the wire (ERROR 0). The other limits get no answer. */
const BUSY_MESSAGES: Partial<Record<RefusalLimit, string>> = {
  sessions: 'server busy, try again later',
  buffers: 'server busy, try again later',
  client: 'too many sessions from this client',
  prefix: 'too many sessions from this network',
};

export interface RefusalsConfig {
  gatewayId: string;
  refusalLogSamples: number;
  refusalLogIntervalMs: number;
}

/** Sends the busy answer: the listener's socket, to the request's source. */
export type Answer = (code: number, message: string) => void;

export class AdmissionRefusals {
  /** Refusal log lines and records: the first few per reason per interval, then a summary. */
  private readonly sampler: RefusalSampler<RefusalReason>;
  private summaryTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly config: RefusalsConfig,
    private readonly counters: ServerCounters,
    private readonly bus: SessionBus,
    private readonly log: Logger,
  ) {
    this.sampler = new RefusalSampler({ samplesPerInterval: config.refusalLogSamples, intervalMs: config.refusalLogIntervalMs });
  }

  /**
   * A request refused by `limit`. `request` is built only for a refusal that is sampled: a
   * flood costs no request objects.
   */
  refuse(limit: RefusalLimit, prefix: string, request: () => TftpRequest, answer: Answer, durationMs = 0): void {
    const reason = REASON_OF_LIMIT[limit];
    const c = this.counters;
    c.refusalsByLimit[limit] = (c.refusalsByLimit[limit] ?? 0) + 1;
    c.sessionsByOutcome[reason] = (c.sessionsByOutcome[reason] ?? 0) + 1;
    if (reason === 'busy') c.refusedBusy++;
    else if (reason === 'rate-limited') c.refusedRateLimited++;
    else c.deniedClients++;
    const message = BUSY_MESSAGES[limit];
    if (message) answer(ErrorCode.NotDefined, message);
    const { sample, summaries } = this.sampler.offer(reason, performance.now());
    this.logSuppressed(summaries);
    if (!sample) {
      c.refusalLogsSuppressed[reason] = (c.refusalLogsSuppressed[reason] ?? 0) + 1;
      this.scheduleSummary();
      return;
    }
    const counters = newCounters();
    counters.packetsSent = message ? 1 : 0;
    const record = buildRecord({
      gateway: this.config.gatewayId,
      request: request(),
      negotiated: undefined,
      counters,
      durationMs,
      outcome: reason,
      errorCode: message ? ErrorCode.NotDefined : undefined,
      errorMessage: message,
    });
    this.bus.sampledRefusal(record, { limit, prefix });
  }

  /** A running session's window the budget could not grow: the session ends busy (counted here). */
  countWindowRefusal(): void {
    const c = this.counters;
    const limit: RefusalLimit = 'window-buffers';
    c.refusalsByLimit[limit] = (c.refusalsByLimit[limit] ?? 0) + 1;
    c.refusedBusy++;
  }

  /** Refusals held back by sampling still get their summary line before the process goes. */
  stop(): void {
    if (this.summaryTimer) clearTimeout(this.summaryTimer);
    this.summaryTimer = undefined;
    this.logSuppressed(this.sampler.drain(performance.now()));
  }

  private logSuppressed(summaries: SuppressedSummary<RefusalReason>[]): void {
    for (const s of summaries) {
      this.log.warn(
        { event: 'refusalsSuppressed', reason: s.kind, suppressed: s.suppressed, sampled: s.sampled, intervalMs: Math.round(s.endMs - s.startMs) },
        `suppressed ${s.suppressed} similar`,
      );
    }
  }

  /** A summary is due when an interval with suppressed refusals ends, even if the flood stopped. */
  private scheduleSummary(): void {
    if (this.summaryTimer) return;
    const at = this.sampler.nextSummaryAtMs();
    if (at === undefined) return;
    this.summaryTimer = setTimeout(() => {
      this.summaryTimer = undefined;
      this.logSuppressed(this.sampler.flush(performance.now()));
      this.scheduleSummary();
    }, Math.max(0, at - performance.now()) + 1);
    this.summaryTimer.unref();
  }
}
