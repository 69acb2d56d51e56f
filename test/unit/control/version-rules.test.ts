import { describe, expect, it } from 'vitest';
import { ControlPlaneError } from '../../../gateway/src/control/control-plane.js';
import { versionsToPrune } from '../../../gateway/src/control/retention.js';
import { checkRolloutRequest, rolloutVersions } from '../../../gateway/src/control/rollout-rules.js';
import { formatVersionId, nextVersionMs, VERSION_ID, versionIdMs } from '../../../gateway/src/control/version-id.js';

const SHA = 'ab12cd34'.padEnd(64, '0');

describe('version ids', () => {
  it('format: UTC to the millisecond, then the first 8 hex of the sha256; parsed back', () => {
    const ms = Date.UTC(2026, 11, 7, 2, 3, 4, 56);
    const id = formatVersionId(ms, SHA);
    expect(id).toBe('20261207T020304056Z-ab12cd34');
    expect(VERSION_ID.test(id)).toBe(true);
    expect(versionIdMs(id)).toBe(ms);
    expect(() => versionIdMs('latest')).toThrow(/not a version id/);
  });

  it('next: now, or the newest + 1 ms when now is not later (same millisecond, clock stepped back)', () => {
    const newest = formatVersionId(1_000_000, SHA);
    expect(nextVersionMs(2_000_000, newest)).toBe(2_000_000);
    expect(nextVersionMs(1_000_000, newest)).toBe(1_000_001);
    expect(nextVersionMs(5, newest)).toBe(1_000_001);
    expect(nextVersionMs(5, undefined)).toBe(5);
  });
});

describe('retention', () => {
  const ids = Array.from({ length: 10 }, (_, i) => `v${i}`);
  it('prunes the oldest first down to max', () => {
    expect(versionsToPrune(ids, new Set(), 7)).toEqual(['v0', 'v1', 'v2']);
    expect(versionsToPrune(ids, new Set(), 10)).toEqual([]);
    expect(versionsToPrune(ids, new Set(), 0)).toEqual(ids);
  });
  it('never prunes a protected version, and still keeps the count at max', () => {
    expect(versionsToPrune(ids, new Set(['v0', 'v2']), 7)).toEqual(['v1', 'v3', 'v4']);
    expect(versionsToPrune(ids, new Set(['v0', 'v1']), 1)).toEqual(['v2', 'v3', 'v4', 'v5', 'v6', 'v7', 'v8', 'v9']);
  });
});

describe('rollout rules', () => {
  const a = formatVersionId(1, SHA);
  const b = formatVersionId(2, SHA);
  it('accepts a stable version with or without a canary of 1..99 percent, dropping extra fields', () => {
    expect(checkRolloutRequest('f', { stable: a })).toEqual({ stable: a });
    expect(checkRolloutRequest('f', { stable: a, canary: { version: b, percent: 99 }, extra: 1 } as never)).toEqual({ stable: a, canary: { version: b, percent: 99 } });
    expect(rolloutVersions({ stable: a, canary: { version: b, percent: 1 } })).toEqual([a, b]);
    expect(rolloutVersions(undefined)).toEqual([]);
  });
  it('refuses a bad name, a non-id, a percent out of 1..99 or not whole, and a canary equal to the stable version', () => {
    expect(() => checkRolloutRequest('../x', { stable: a })).toThrow(ControlPlaneError);
    expect(() => checkRolloutRequest('f', { stable: 'latest' })).toThrow(/not a version id/);
    for (const percent of [0, 100, 12.5, -3]) expect(() => checkRolloutRequest('f', { stable: a, canary: { version: b, percent } })).toThrow(/whole number from 1 to 99/);
    expect(() => checkRolloutRequest('f', { stable: a, canary: { version: a, percent: 5 } })).toThrow(/already the stable version/);
  });
});
