/**
 * Sampling for refusal log lines and records: a flood of refused requests must be visible
 * without the logs (and the Redis stream of records) becoming a flood of their own.
 *
 * Per kind (busy, rate-limited, client-denied), time is cut into intervals of `intervalMs`
 * starting at the first refusal; the first `samplesPerInterval` refusals of an interval are
 * sampled (logged in full, recorded), the rest only counted; when an interval with suppressed
 * refusals ends, one summary says how many ("suppressed K similar"). So an interval produces
 * at most samplesPerInterval + 1 lines per kind, whatever the rate. Pure: `nowMs` is passed in.
 */
export interface RefusalSamplerConfig {
  readonly samplesPerInterval: number;
  readonly intervalMs: number;
}

export interface SuppressedSummary<K extends string> {
  kind: K;
  /** Refusals of this kind that were counted but not logged in the interval. */
  suppressed: number;
  /** Refusals that were logged in the interval. */
  sampled: number;
  startMs: number;
  endMs: number;
}

interface Window {
  startMs: number;
  sampled: number;
  suppressed: number;
}

export class RefusalSampler<K extends string> {
  private readonly windows = new Map<K, Window>();

  constructor(private readonly config: RefusalSamplerConfig) {}

  /**
   * One refusal of `kind` at nowMs: `sample` says whether to log and record it in full;
   * `summaries` are intervals (of any kind) that ended by now with refusals suppressed.
   */
  offer(kind: K, nowMs: number): { sample: boolean; summaries: SuppressedSummary<K>[] } {
    const summaries = this.flush(nowMs);
    let w = this.windows.get(kind);
    if (!w) {
      w = { startMs: nowMs, sampled: 0, suppressed: 0 };
      this.windows.set(kind, w);
    }
    if (w.sampled < this.config.samplesPerInterval) {
      w.sampled++;
      return { sample: true, summaries };
    }
    w.suppressed++;
    return { sample: false, summaries };
  }

  /** Ends every interval over by nowMs; returns those that suppressed something. */
  flush(nowMs: number): SuppressedSummary<K>[] {
    const out: SuppressedSummary<K>[] = [];
    for (const [kind, w] of this.windows) {
      const endMs = w.startMs + this.config.intervalMs;
      if (nowMs < endMs) continue;
      this.windows.delete(kind);
      if (w.suppressed > 0) out.push({ kind, suppressed: w.suppressed, sampled: w.sampled, startMs: w.startMs, endMs });
    }
    return out;
  }

  /** When the earliest open interval with suppressed refusals ends (to schedule a flush). */
  nextSummaryAtMs(): number | undefined {
    let at: number | undefined;
    for (const w of this.windows.values()) {
      if (w.suppressed === 0) continue;
      const end = w.startMs + this.config.intervalMs;
      if (at === undefined || end < at) at = end;
    }
    return at;
  }

  /** Summaries of every open interval, ended now (at shutdown). */
  drain(nowMs: number): SuppressedSummary<K>[] {
    const out: SuppressedSummary<K>[] = [];
    for (const [kind, w] of this.windows) if (w.suppressed > 0) out.push({ kind, suppressed: w.suppressed, sampled: w.sampled, startMs: w.startMs, endMs: nowMs });
    this.windows.clear();
    return out;
  }
}
