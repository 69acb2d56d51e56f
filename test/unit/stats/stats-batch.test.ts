import { describe, expect, it } from 'vitest';
import { statsKeys } from '../../../gateway/src/cache/keyspace.js';
import type { SessionRecord } from '../../../gateway/src/stats/session-record.js';
import { sessionRecord } from '../../helpers/session-record.js';
import { buildStatsBatch, minuteEpoch, recordFile } from '../../../gateway/src/stats/stats-batch.js';

function record(over: Partial<SessionRecord> = {}): SessionRecord {
  return sessionRecord({ endedAt: new Date(120_500).toISOString(), ...over });
}

const plain = (m: Map<string, Map<string, number>>) => Object.fromEntries([...m].map(([k, v]) => [k, Object.fromEntries(v)]));

describe('stats batch', () => {
  it('stats batch: the minute is the start of the record\'s minute in Unix seconds; the file is the routed path', () => {
    expect(minuteEpoch(0)).toBe(0);
    expect(minuteEpoch(59_999)).toBe(0);
    expect(minuteEpoch(60_000)).toBe(60);
    expect(minuteEpoch(125_000)).toBe(120);
    expect(recordFile(record({ file: 'A\\b', fileNormalized: 'a/b' }))).toBe('a/b');
    expect(recordFile(record({ file: 'raw', fileNormalized: undefined }))).toBe('raw');
  });

  it('stats batch: one stream entry per record and the counters of a minute summed over the batch', () => {
    const keys = statsKeys('t:', 's');
    const batch = [
      record({ id: '1', bytes: 1000, blocks: 2, retransmits: 1 }),
      record({ id: '2', bytes: 24, blocks: 1, outcome: 'option-probe', peer: { address: '10.0.0.9', port: 1, family: 'IPv4' } }),
      record({ id: '3', gateway: '', bytes: 0, blocks: 0, outcome: 'timeout', function: 'grub', fileNormalized: 'grub.cfg', endedAt: new Date(185_000).toISOString() }),
    ];
    const b = buildStatsBatch(batch, { gatewayId: 'me', maxLen: 5000 }, keys, () => 1e12);
    expect(b.streamArgs).toEqual([
      5000,
      'gw-a', 'ok', '-', 'a', JSON.stringify(batch[0]),
      'gw-a', 'option-probe', '-', 'a', JSON.stringify(batch[1]),
      // A record without a gateway goes under this sink's.
      'me', 'timeout', 'grub', 'grub.cfg', JSON.stringify(batch[2]),
    ]);
    // Counter keys are this sink's gateway's, whatever the record says; an option probe is no error.
    expect(plain(b.hashes)).toEqual({
      't:stats:{s}:gw:me:120': { sessions: 2, bytes: 1024, blocks: 3, retransmits: 1, errors: 0, 'outcome:ok': 1, 'outcome:option-probe': 1 },
      't:stats:{s}:fn:-:120': { sessions: 2, bytes: 1024, blocks: 3, retransmits: 1, errors: 0, 'outcome:ok': 1, 'outcome:option-probe': 1 },
      't:stats:{s}:gw:me:180': { sessions: 1, bytes: 0, blocks: 0, retransmits: 0, errors: 1, 'outcome:timeout': 1 },
      't:stats:{s}:fn:grub:180': { sessions: 1, bytes: 0, blocks: 0, retransmits: 0, errors: 1, 'outcome:timeout': 1 },
    });
    // Top sets count sessions, not bytes.
    expect(plain(b.zsets)).toEqual({
      't:stats:{s}:top:file:120': { a: 2 },
      't:stats:{s}:top:peer:120': { '127.0.0.1': 1, '10.0.0.9': 1 },
      't:stats:{s}:top:file:180': { 'grub.cfg': 1 },
      't:stats:{s}:top:peer:180': { '127.0.0.1': 1 },
    });
    expect(b.lastSeenMs).toBe(185_000);
  });

  it('stats batch: a record whose end time does not parse counts at the clock passed in', () => {
    const b = buildStatsBatch([record({ endedAt: 'not a date' })], { gatewayId: 'me', maxLen: 10 }, statsKeys('t:', 's'), () => 3_600_000 + 42);
    expect([...b.hashes.keys()]).toEqual(['t:stats:{s}:gw:me:3600', 't:stats:{s}:fn:-:3600']);
    expect(b.lastSeenMs).toBe(3_600_042);
  });
});
