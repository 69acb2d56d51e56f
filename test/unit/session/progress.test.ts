/**
 * Minimum progress and maximum duration (issue 9, section 2): a peer that keeps a session alive
 * with a trickle of ACKs, or a transfer that would take forever at blksize 8, ends with ERROR 0
 * and outcome `too-slow`. Fake clock, fake link; the figures are printed for RELIABILITY.md.
 */
import { describe, expect, it } from 'vitest';
import { Opcode } from '../../../gateway/src/protocol/packet.js';
import { PROGRESS_ERROR_TEXT, ProgressGuard } from '../../../gateway/src/session/progress.js';
import { ReadPair, testFile, WritePair } from '../../helpers/fake-link.js';

const RULES = { minProgressBytes: 4096, progressIntervalMs: 10_000, maxSessionMs: 30 * 60_000 };

describe('progress guard', () => {
  it('progress guard: too few bytes in an interval is too-slow; enough restarts the interval', () => {
    const g = new ProgressGuard(RULES, 0);
    expect(g.deadline).toBe(10_000);
    expect(g.check(10_000, 5000)).toBeUndefined();
    expect(g.deadline).toBe(20_000);
    expect(g.check(20_000, 5000 + 4095)).toBe('too-slow');
  });

  it('progress guard: time spent waiting on our own source is not held against the peer', () => {
    const g = new ProgressGuard(RULES, 0);
    g.waiting(2000, true);
    g.waiting(5000, false);
    // 3 s of waiting on the source moved the interval's end from 10 s to 13 s.
    expect(g.deadline).toBe(13_000);
    expect(g.check(13_000, 4096)).toBeUndefined();
    g.waiting(14_000, true);
    expect(g.check(23_000, 4096)).toBeUndefined();
    expect(g.deadline).toBe(33_000);
  });

  it('progress guard: past maxSessionMs it is too-long whatever the rate; 0 disables both rules', () => {
    const g = new ProgressGuard({ ...RULES, maxSessionMs: 15_000 }, 0);
    expect(g.check(10_000, 1e9)).toBeUndefined();
    expect(g.deadline).toBe(15_000);
    expect(g.check(15_000, 2e9)).toBe('too-long');
    const off = new ProgressGuard({ minProgressBytes: 0, progressIntervalMs: 10_000, maxSessionMs: 0 }, 0);
    expect(off.deadline).toBeUndefined();
  });
});

describe('read session: progress rules', () => {
  it('read session: one ACK every 4 s (blksize 512) ends too-slow with ERROR 0 instead of holding the session', () => {
    const pair = new ReadPair({
      file: testFile(1024 * 1024),
      session: { ...RULES, timeoutMs: 5000, maxTimeoutMs: 5000 },
      // A 2 s one-way delay: the client's ACK for each block comes 4 s after the block.
      client: { timeoutMs: 60_000 },
      link: { latencyMs: 2000 },
    });
    const result = pair.run();
    expect(result.outcome).toBe('too-slow');
    expect(pair.link.sent('toClient').at(-1)!.packet).toEqual({ op: Opcode.Error, code: 0, message: PROGRESS_ERROR_TEXT['too-slow'] });
    console.log(`[progress] unit one ACK per 4 s, blksize 512: ended too-slow after ${result.now} ms (fake), ${pair.session.counters.bytes} bytes sent`);
    expect(result.now).toBeLessThanOrEqual(2 * RULES.progressIntervalMs + 4000);
  });

  it('read session: blksize 8 on a big file ends too-slow at maxSessionMs', () => {
    const maxSessionMs = 60_000;
    const pair = new ReadPair({
      file: testFile(4 * 1024 * 1024),
      session: { ...RULES, maxSessionMs, blockSize: 8, oack: { blksize: '8' } },
      link: { latencyMs: 1 },
      maxSteps: 5_000_000,
    });
    const result = pair.run();
    expect(result.outcome).toBe('too-slow');
    expect(result.end).toMatchObject({ errorCode: 0, errorMessage: PROGRESS_ERROR_TEXT['too-long'] });
    expect(result.now - maxSessionMs).toBeLessThanOrEqual(2); // the ERROR's delivery
    console.log(`[progress] unit blksize 8, 4 MiB, 2 ms RTT: ended too-slow at ${result.now} ms (fake) after ${pair.session.counters.bytes} bytes`);
  });

  it('read session: a normal transfer is untouched by the rules', () => {
    const pair = new ReadPair({ file: testFile(300_000), session: { ...RULES, windowSize: 4 } });
    expect(pair.run().outcome).toBe('ok');
  });

  it('read session: a slow source does not count against the peer', () => {
    const pair = new ReadPair({ file: testFile(5 * 512 + 1), session: { ...RULES, progressIntervalMs: 1000, timeoutMs: 60_000, maxTimeoutMs: 60_000 }, source: { delayMs: 3000, chunkBytes: 700 } });
    expect(pair.run().outcome).toBe('ok');
  });
});

describe('write session: progress rules', () => {
  it('write session: one DATA every 4 s ends too-slow with ERROR 0', () => {
    const pair = new WritePair({
      file: testFile(1024 * 1024),
      session: { ...RULES, timeoutMs: 5000, maxTimeoutMs: 5000 },
      client: { timeoutMs: 60_000 },
      link: { latencyMs: 2000 },
    });
    const result = pair.run();
    expect(result.outcome).toBe('too-slow');
    expect(pair.link.sent('toClient').at(-1)!.packet).toEqual({ op: Opcode.Error, code: 0, message: PROGRESS_ERROR_TEXT['too-slow'] });
  });

  it('write session: a repeated WRQ before any DATA gets the ACK 0 again, once per request', () => {
    const pair = new WritePair({ file: testFile(100), session: { firstPacketRetries: 0 } });
    pair.feed({ type: 'repeatRequest' });
    expect(pair.link.sent('toClient').map((d) => d.key)).toEqual(['ACK:0', 'ACK:0']);
    expect(pair.run().outcome).toBe('ok');
    const s = pair.session;
    s.handle({ type: 'repeatRequest' }, pair.now);
    expect(s.pollTransmit()).toBeUndefined();
  });
});
