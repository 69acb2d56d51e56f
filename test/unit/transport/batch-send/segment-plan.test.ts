/** The pure run planner: which datagrams of a window may leave as one UDP GSO send. */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { MAX_GSO_BYTES, MAX_GSO_SEGMENTS, datagramLength, planRuns } from '../../../../gateway/src/transport/batch-send/segment-plan.js';

const block = (payloadBytes: number) => [new Uint8Array(4), new Uint8Array(payloadBytes)];

describe('segment plan', () => {
  it('a window of 64 full 1468-byte blocks goes as GSO runs of 44 and 20 (65,507 bytes per send at most)', () => {
    const window = Array.from({ length: 64 }, () => block(1468));
    expect(planRuns(window)).toEqual([
      { start: 0, end: 44, segmentBytes: 1472 },
      { start: 44, end: 64, segmentBytes: 1472 },
    ]);
    expect(44 * 1472).toBeLessThanOrEqual(MAX_GSO_BYTES);
    expect(45 * 1472).toBeGreaterThan(MAX_GSO_BYTES);
  });

  it('the short last block of a transfer goes on its own', () => {
    const window = [block(512), block(512), block(512), block(100)];
    expect(planRuns(window)).toEqual([{ start: 0, end: 3, segmentBytes: 516 }, { start: 3, end: 4 }]);
  });

  it('small blocks are capped at 64 segments per send', () => {
    const window = Array.from({ length: 130 }, () => block(8));
    expect(planRuns(window).map((r) => r.end - r.start)).toEqual([64, 64, 2]);
  });

  it('a single packet, or blocks too large to pair, go one by one', () => {
    expect(planRuns([new Uint8Array(20)])).toEqual([{ start: 0, end: 1 }]);
    expect(planRuns([block(65464), block(65464)])).toEqual([{ start: 0, end: 1 }, { start: 1, end: 2 }]);
    expect(planRuns([])).toEqual([]);
  });

  it('every datagram lands in exactly one run, in order, and every GSO run is within the kernel limits', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.constant(516), fc.constant(1472), fc.integer({ min: 4, max: 70000 })), { maxLength: 200 }), (sizes) => {
        const window = sizes.map((n) => new Uint8Array(n));
        const runs = planRuns(window);
        let next = 0;
        for (const r of runs) {
          expect(r.start).toBe(next);
          expect(r.end).toBeGreaterThan(r.start);
          next = r.end;
          if (r.segmentBytes !== undefined) {
            expect(r.end - r.start).toBeGreaterThanOrEqual(2);
            expect(r.end - r.start).toBeLessThanOrEqual(MAX_GSO_SEGMENTS);
            expect((r.end - r.start) * r.segmentBytes).toBeLessThanOrEqual(MAX_GSO_BYTES);
            for (let i = r.start; i < r.end; i++) expect(datagramLength(window[i])).toBe(r.segmentBytes);
          } else {
            expect(r.end - r.start).toBe(1);
          }
        }
        expect(next).toBe(window.length);
      }),
      { seed: 13, numRuns: 300 },
    );
  });
});
