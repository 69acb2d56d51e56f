/**
 * The one fan-out of a finished (or refused) session's record.
 *
 * Order: server counters -> the `session` log line -> the user's hook (metrics, the Redis sink and
 * opts.onSession are wired behind that hook in index.ts). A hook that throws is logged and costs
 * nothing else: the counters and the log line are already written, and the next record goes out
 * as usual. The transport and the accept step never call log/hooks for a record themselves.
 *
 * Two entry points because the two kinds of record are counted differently today:
 *  - finished(): a session (or a refusal before a session existed, e.g. not-found) counts its
 *    outcome here;
 *  - sampledRefusal(): an admission refusal was already counted exactly by the caller
 *    (admission/refusals.ts counts every refusal, sampled or not), so only log + hook run.
 */
import type { Logger } from 'pino';
import type { ServerCounters } from './counters.js';
import type { SessionRecord } from './session-record.js';
import type { Outcome } from '../session/types.js';

export interface SessionHooks {
  /** Called with every finished session's record (fbtftp's session-stats callback). */
  onSession?: (record: SessionRecord) => void;
}

/** Outcomes that are normal traffic for a boot server (GRUB probes names that do not exist). */
const QUIET_OUTCOMES = new Set(['ok', 'option-probe', 'not-found']);
const levelOf = (outcome: string): 'info' | 'warn' => (QUIET_OUTCOMES.has(outcome) ? 'info' : 'warn');

/** ENOENT, NoSuchKey, ...: what an expected failure's cause is called, without its stack. */
function causeCode(cause: unknown): string {
  if (cause instanceof Error) return String((cause as { code?: unknown }).code ?? cause.name);
  return typeof cause;
}

export class SessionBus {
  constructor(
    private readonly counters: ServerCounters,
    private readonly log: Logger,
    private readonly hooks: SessionHooks = {},
  ) {}

  /**
   * Whether a session that ended with `outcome` needs its record: for its log line (at info for
   * everyday outcomes, warn for failures) or for a hook. A busy gateway at level warn with no
   * metrics, stats sink or user hook builds none for its successful sessions; it only counts
   * them (`counted`).
   */
  wantsRecord(outcome: Outcome): boolean {
    return this.hooks.onSession !== undefined || this.log.isLevelEnabled?.(levelOf(outcome)) !== false;
  }

  /** A finished session whose record nobody wants (wantsRecord false): counted by outcome. */
  counted(outcome: Outcome): void {
    const byOutcome = this.counters.sessionsByOutcome;
    byOutcome[outcome] = (byOutcome[outcome] ?? 0) + 1;
  }

  /** A session's record: counted by outcome, logged (with its cause, for logs only), handed on. */
  finished(record: SessionRecord, cause?: unknown): void {
    this.counted(record.outcome);
    const level = levelOf(record.outcome);
    const quiet = level === 'info';
    // Built only when the level is on: a busy gateway at level warn skips ~1 µs per session.
    if (this.log.isLevelEnabled?.(level) !== false) {
      // A failure gets its cause with the stack; an expected outcome (GRUB probing a name that
      // does not exist) gets only the cause's code, so a boot's log holds no stack traces.
      const why = cause === undefined ? {} : quiet ? { cause: causeCode(cause) } : { err: cause };
      this.log[level]({ event: 'session', ...record, ...why }, 'session finished');
    }
    this.publish(record);
  }

  /** A sampled admission refusal: already counted by the caller; logged with its rule, handed on. */
  sampledRefusal(record: SessionRecord, fields: { limit: string; prefix: string }): void {
    this.log[record.outcome === 'client-denied' ? 'info' : 'warn']({ event: 'session', ...record, ...fields, sampled: true }, 'request refused');
    this.publish(record);
  }

  private publish(record: SessionRecord): void {
    try {
      this.hooks.onSession?.(record);
    } catch (e) {
      this.log.error({ event: 'hookError', err: e }, 'session hook threw');
    }
  }
}
