import { describe, expect, it } from 'vitest';
import { newServerCounters } from '../../../gateway/src/stats/counters.js';
import { serverStatsSnapshot } from '../../../gateway/src/stats/server-stats.js';

describe('server stats snapshot', () => {
  it('server stats: a snapshot is a copy: counters moving later do not change it', () => {
    const counters = newServerCounters();
    counters.sessionsStarted = 3;
    counters.sessionsByOutcome.ok = 2;
    const s = serverStatsSnapshot({ counters }, new Date(0));
    counters.sessionsStarted = 9;
    counters.sessionsByOutcome.ok = 7;
    expect(s.at).toBe('1970-01-01T00:00:00.000Z');
    expect(s.counters.sessionsStarted).toBe(3);
    expect(s.counters.sessionsByOutcome).toEqual({ ok: 2 });
    expect(s.functions).toEqual([]);
    expect(s.objects).toBeUndefined();
    expect(s.kv).toBeUndefined();
    expect(s.statsSink).toBeUndefined();
  });

  it('server stats: objects, kv and the sink are flattened with their kind', () => {
    const counters = newServerCounters();
    const objectStats = { cacheHits: 1 } as never;
    const s = serverStatsSnapshot({
      counters,
      functions: { status: () => [{ name: 'grub' } as never] },
      objects: { stats: objectStats, store: { kind: 's3' }, memoryHeld: 4096 },
      kv: { stats: { gets: 5 } as never, kind: 'redis', available: false },
      statsSink: { stats: { pushed: 2 } as never },
    });
    expect(s.functions).toEqual([{ name: 'grub' }]);
    expect(s.objects).toEqual({ cacheHits: 1, store: 's3', memoryHeldBytes: 4096 });
    expect(s.kv).toEqual({ gets: 5, kind: 'redis', available: false });
    expect(s.statsSink).toEqual({ pushed: 2 });
  });
});
