import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../gateway/src/config/load.js';
import { SessionPlan } from '../../../gateway/src/accept/session-plan.js';
import { TftpError } from '../../../gateway/src/protocol/error-codes.js';

const cfg = (over: Record<string, unknown> = {}) => parseConfig({ ...over });

describe('accept: session plan', () => {
  it('session plan: the client\'s RFC 2349 timeout is acknowledged as asked but our timer is capped by maxTimeoutMs', () => {
    const plan = new SessionPlan(cfg({ maxTimeoutMs: 5000 }), true);
    const n = plan.negotiate('read', { timeout: '255' }, 10);
    expect(n.oack?.timeout).toBe('255');
    expect(plan.timingFor(n).timeoutMs).toBe(5000);
    const small = plan.negotiate('read', { timeout: '2' }, 10);
    expect(plan.timingFor(small).timeoutMs).toBe(2000);
  });

  it('session plan: without a timeout option the configured timeoutMs is used', () => {
    const plan = new SessionPlan(cfg({ timeoutMs: 700 }), true);
    expect(plan.timingFor(plan.negotiate('read', {}, 10)).timeoutMs).toBe(700);
  });

  it('session plan: the OACK states a windowsize lowered to fit maxWindowBytes', () => {
    const plan = new SessionPlan(cfg({ maxWindowBytes: 64 * 1024 }), true);
    const n = plan.negotiate('read', { blksize: '8192', windowsize: '64' }, 1 << 20);
    expect(n.blockSize).toBe(8192);
    expect(n.windowSize).toBe(8);
    expect(n.oack?.windowsize).toBe('8');
  });

  it('session plan: single-port mode caps blksize at singlePortMaxBlockSize and the window at singlePortMaxWindowBytes', () => {
    const plan = new SessionPlan(cfg({ singlePort: true }), false);
    const n = plan.negotiate('read', { blksize: '65464', windowsize: '64' }, 1 << 20);
    expect(n.blockSize).toBe(1468);
    expect(n.oack?.blksize).toBe('1468');
    expect(n.windowSize).toBe(Math.floor((16 * 1024) / 1468));
    expect(plan.windowBytesCap).toBe(16 * 1024);
  });

  it('session plan: an option refusal throws a TftpError', () => {
    const plan = new SessionPlan(cfg(), true);
    expect(() => plan.negotiate('read', { blksize: 'x1' }, 10)).toThrow(TftpError);
  });

  it('session plan: a read on a secret port reserves its slow-start window; elsewhere the whole window', () => {
    const proven = new SessionPlan(cfg({ slowStartBlocks: 2 }), true);
    const unproven = new SessionPlan(cfg({ slowStartBlocks: 2 }), false);
    const window = { blockSize: 1000, windowSize: 16 };
    expect(proven.reservationBytes({ kind: 'read', mode: 'octet' }, window, undefined)).toBe(2 * 2 * 1000);
    expect(unproven.reservationBytes({ kind: 'read', mode: 'octet' }, window, undefined)).toBe(2 * 16 * 1000);
    expect(proven.reservationBytes({ kind: 'write', mode: 'octet' }, window, undefined)).toBe(2 * 16 * 1000);
    // The source size bounds octet only: netascii may double the bytes.
    expect(unproven.reservationBytes({ kind: 'read', mode: 'octet' }, window, 100)).toBe(100);
    expect(unproven.reservationBytes({ kind: 'read', mode: 'netascii' }, window, 100)).toBe(2 * 16 * 1000);
  });

  it('session plan: builds a read session that queues its OACK and a write session that queues its OACK', () => {
    const plan = new SessionPlan(cfg(), true);
    const read = plan.session('read', plan.negotiate('read', { blksize: '1024' }, 10), 0);
    const write = plan.session('write', plan.negotiate('write', { blksize: '1024' }, undefined), 0);
    expect(read.pollTransmit()).toBeDefined();
    expect(write.pollTransmit()).toBeDefined();
  });
});
