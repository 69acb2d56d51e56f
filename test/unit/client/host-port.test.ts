import { describe, expect, it } from 'vitest';
import { parseHostPort } from '../../../client/host-port.js';
import { percentile, summarizeLatencies } from '../../../client/latency-summary.js';

describe('host-port', () => {
  it.each([
    ['127.0.0.1', { host: '127.0.0.1', port: undefined }],
    ['127.0.0.1:6969', { host: '127.0.0.1', port: 6969 }],
    ['localhost:69', { host: 'localhost', port: 69 }],
    ['::1', { host: '::1', port: undefined }],
    ['[::1]', { host: '::1', port: undefined }],
    ['[::1]:6969', { host: '::1', port: 6969 }],
    ['[fe80::1]:1', { host: 'fe80::1', port: 1 }],
  ])('host-port: parses %s', (input, want) => {
    expect(parseHostPort(input)).toEqual(want);
  });

  it.each(['[::1', '[::1]x', '[::1]:0', '127.0.0.1:70000', 'a:b:c', ':69', '', '[1.2.3.4]:69', 'h:x'])('host-port: rejects %j with a message', (input) => {
    expect(() => parseHostPort(input)).toThrow(Error);
  });
});

describe('latency summary', () => {
  it('latency summary: nearest-rank percentiles of 1..100 are the ranks themselves', () => {
    const s = summarizeLatencies(Array.from({ length: 100 }, (_, i) => 100 - i));
    expect(s).toMatchObject({ count: 100, p50Ms: 50, p90Ms: 90, p99Ms: 99, maxMs: 100, meanMs: 50.5 });
  });

  it('latency summary: one sample is every percentile; none is NaN', () => {
    expect(percentile([7], 99)).toBe(7);
    expect(summarizeLatencies([]).p50Ms).toBeNaN();
  });
});
