import { describe, expect, it } from 'vitest';
import { RefusalSampler } from '../../../gateway/src/admission/refusal-sampler.js';

type Kind = 'busy' | 'rate-limited';

describe('refusal sampler', () => {
  it('refusal sampler: samples the first N per interval, counts the rest, then summarises them once', () => {
    const s = new RefusalSampler<Kind>({ samplesPerInterval: 3, intervalMs: 1000 });
    const sampled = Array.from({ length: 10 }, (_, i) => s.offer('busy', i).sample);
    expect(sampled).toEqual([true, true, true, false, false, false, false, false, false, false]);
    expect(s.nextSummaryAtMs()).toBe(1000);
    expect(s.flush(999)).toEqual([]);
    expect(s.flush(1000)).toEqual([{ kind: 'busy', suppressed: 7, sampled: 3, startMs: 0, endMs: 1000 }]);
    expect(s.flush(2000)).toEqual([]);
    // A new interval samples again.
    expect(s.offer('busy', 2500).sample).toBe(true);
  });

  it('refusal sampler: lines are bounded whatever the rate: N + 1 per kind per interval', () => {
    const s = new RefusalSampler<Kind>({ samplesPerInterval: 5, intervalMs: 1000 });
    let lines = 0;
    // 100,000 refusals over 10 s, of two kinds.
    for (let i = 0; i < 100_000; i++) {
      const r = s.offer(i % 2 ? 'busy' : 'rate-limited', i / 10);
      if (r.sample) lines++;
      lines += r.summaries.length;
    }
    lines += s.drain(10_000).length;
    expect(lines).toBeLessThanOrEqual(2 * 10 * (5 + 1));
    expect(lines).toBeGreaterThanOrEqual(2 * 10 * 5);
  });

  it('refusal sampler: kinds are sampled apart, and an interval without suppression has no summary', () => {
    const s = new RefusalSampler<Kind>({ samplesPerInterval: 1, intervalMs: 100 });
    expect(s.offer('busy', 0).sample).toBe(true);
    expect(s.offer('rate-limited', 0).sample).toBe(true);
    expect(s.offer('rate-limited', 1).sample).toBe(false);
    expect(s.nextSummaryAtMs()).toBe(100);
    const r = s.offer('busy', 150);
    expect(r.sample).toBe(true);
    expect(r.summaries).toEqual([{ kind: 'rate-limited', suppressed: 1, sampled: 1, startMs: 0, endMs: 100 }]);
  });

  it('refusal sampler: drain reports what is still open (shutdown)', () => {
    const s = new RefusalSampler<Kind>({ samplesPerInterval: 0, intervalMs: 1000 });
    s.offer('busy', 0);
    s.offer('busy', 1);
    expect(s.drain(10)).toEqual([{ kind: 'busy', suppressed: 2, sampled: 0, startMs: 0, endMs: 10 }]);
    expect(s.nextSummaryAtMs()).toBeUndefined();
  });
});
