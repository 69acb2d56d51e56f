import { describe, expect, test } from 'vitest';
import { pino } from 'pino';
import { MemoryKvStore } from '../../../gateway/src/cache/memory-kv.js';
import { TAG_HEADER_BYTES, TaggedKvStore } from '../../../gateway/src/cache/tagged-kv.js';

const KEY = Buffer.from('unit-test-fleet-key-0123456789ab');

function setup(opts: { key?: Buffer; now?: () => number } = {}) {
  const lines: Record<string, unknown>[] = [];
  const log = pino({ level: 'info' }, { write: (s: string) => void lines.push(JSON.parse(s) as Record<string, unknown>) });
  const inner = new MemoryKvStore();
  const kv = new TaggedKvStore(inner, { key: opts.key ?? KEY, log, now: opts.now ?? (() => 0) });
  return { inner, kv, lines };
}

describe('tagged kv', () => {
  test('a value round-trips; the store holds it behind a 38-byte tag header', async () => {
    const { inner, kv } = setup();
    await kv.set('obj:b/k@e:1:0', Buffer.from('kernel bytes'));
    expect(Buffer.from((await kv.get('obj:b/k@e:1:0'))!).toString()).toBe('kernel bytes');
    const raw = (await inner.get('obj:b/k@e:1:0'))!;
    expect(raw.byteLength).toBe(TAG_HEADER_BYTES + 12);
    expect(kv.stats.integrityFailures).toBe(0);
  });

  test('env.kv keys are not tagged: what `tftpfn kv set` writes is read as it is', async () => {
    const { inner, kv } = setup();
    await inner.set('kv:machine:default', Buffer.from('{"kernel":"x"}'));
    expect(Buffer.from((await kv.get('kv:machine:default'))!).toString()).toBe('{"kernel":"x"}');
    await kv.set('kv:motd', Buffer.from('hi'));
    expect(Buffer.from((await inner.get('kv:motd'))!).toString()).toBe('hi');
  });

  test('an untagged, a forged, a moved and another key\'s entry are each a miss and counted', async () => {
    const { inner, kv } = setup();
    await inner.set('obj:a', Buffer.from('evil'));
    expect(await kv.get('obj:a')).toBeUndefined();

    await kv.set('obj:b', Buffer.from('genuine'));
    const forged = Buffer.from((await inner.get('obj:b'))!);
    forged[forged.length - 1] ^= 1;
    await inner.set('obj:b', forged);
    expect(await kv.get('obj:b')).toBeUndefined();

    await kv.set('obj:c', Buffer.from('genuine c'));
    await inner.set('obj:d', (await inner.get('obj:c'))!);
    expect(await kv.get('obj:d')).toBeUndefined();

    const other = setup({ key: Buffer.from('another-fleet-key-0123456789abcd') });
    await other.kv.set('obj:e', Buffer.from('theirs'));
    await inner.set('obj:e', (await other.inner.get('obj:e'))!);
    expect(await kv.get('obj:e')).toBeUndefined();

    expect(kv.stats.integrityFailures).toBe(4);
    // Each refusal is a miss to callers, not a hit (the two hits are this test's raw reads of obj:b and obj:c).
    expect(kv.stats.hits).toBe(2);
    expect(kv.stats.misses).toBe(4);
    expect(Buffer.from((await kv.get('obj:c'))!).toString()).toBe('genuine c');
  });

  test('log lines are sampled: the first failure, then one per 10 s carrying the count it skipped', async () => {
    let nowMs = 0;
    const { inner, kv, lines } = setup({ now: () => nowMs });
    await inner.set('meta:x', Buffer.from('{"size":1}'));
    for (let i = 0; i < 1000; i++) await kv.get('meta:x');
    nowMs = 10_000;
    await kv.get('meta:x');
    const logged = lines.filter((l) => l.event === 'cacheIntegrityFailure');
    expect(logged.map((l) => [l.reason, l.suppressed])).toEqual([
      ['untagged', 0],
      ['untagged', 999],
    ]);
    expect(kv.stats.integrityFailures).toBe(1001);
  });

  test('a key shorter than 16 bytes is refused', () => {
    expect(() => setup({ key: Buffer.from('short') })).toThrow(/at least 16 bytes/);
  });
});
