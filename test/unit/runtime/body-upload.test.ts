/**
 * The gateway side of an upload read by the function (runtime/body-upload.ts) and the worker
 * pool's reading of the messages that drive it (runtime/pool-body.ts), with a fake clock.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { BodyUpload, type BodyUploadControl } from '../../../gateway/src/runtime/body-upload.js';
import { bodyMessage, startBody } from '../../../gateway/src/runtime/pool-body.js';
import { checkFromWorker } from '../../../gateway/src/runtime/message-check.js';
import { TftpError } from '../../../gateway/src/protocol/error-codes.js';
import type { ToWorker } from '../../../gateway/src/runtime/worker-protocol.js';

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

function control() {
  const log: string[] = [];
  const ctl: BodyUploadControl = {
    send: (c) => void log.push(`send ${c.byteLength}`),
    end: () => void log.push('end'),
    abort: (r) => void log.push(`abort ${r}`),
    timedOut: () => void log.push('timedOut'),
    done: () => void log.push('done'),
  };
  return { ctl, log };
}

describe('body upload', () => {
  it('finish() sends the gathered bytes, then the end, and resolves on accepted()', async () => {
    const { ctl, log } = control();
    const u = new BodyUpload(ctl, 1000, 1024, 100);
    u.onCredit(1024);
    await u.write(new Uint8Array(40));
    const f = u.finish();
    await Promise.resolve();
    await Promise.resolve();
    expect(log).toEqual(['send 40', 'end']);
    u.onAnswer({ ok: true });
    await f;
    expect(log).toEqual(['send 40', 'end', 'done']);
  });

  it('an error answer before the end fails the next write with that error; done once', async () => {
    const { ctl, log } = control();
    const u = new BodyUpload(ctl, 1000, 1024, 0);
    u.onCredit(1024);
    await u.write(new Uint8Array(10));
    const refusal = new TftpError(2, 'no thanks');
    u.onAnswer({ ok: false, error: refusal });
    await expect(u.write(new Uint8Array(10))).rejects.toBe(refusal);
    await expect(u.finish()).rejects.toBe(refusal);
    expect(log.filter((l) => l === 'done')).toHaveLength(1);
  });

  it('accepted() before the end: the rest is dropped, finish() resolves at once', async () => {
    const { ctl, log } = control();
    const u = new BodyUpload(ctl, 1000, 1024, 0);
    u.onCredit(10);
    await u.write(new Uint8Array(10));
    u.onAnswer({ ok: true });
    await u.write(new Uint8Array(500));
    await u.finish();
    expect(log).toEqual(['send 10', 'done']);
  });

  it('no answer within timeoutMs of the end: a timeout failure, the worker is told, the call is done', async () => {
    const { ctl, log } = control();
    const u = new BodyUpload(ctl, 1000, 1024, 0);
    const f = u.finish().catch((e: unknown) => e);
    await Promise.resolve();
    await vi.advanceTimersByTimeAsync(999);
    expect(log).toEqual(['end']);
    await vi.advanceTimersByTimeAsync(1);
    const e = (await f) as TftpError;
    expect((e.cause as { kind?: string }).kind).toBe('timeout');
    expect(log).toEqual(['end', 'timedOut', 'done']);
  });

  it('the time limit does not run while the body streams', async () => {
    const { ctl, log } = control();
    const u = new BodyUpload(ctl, 1000, 1024, 0);
    u.onCredit(1024);
    await vi.advanceTimersByTimeAsync(60_000);
    await u.write(new Uint8Array(10));
    expect(log).toEqual(['send 10']);
  });

  it('an abort tells the function once, and waits (bounded) for its answer before the call is done', async () => {
    const { ctl, log } = control();
    const u = new BodyUpload(ctl, 1000, 1024, 0);
    u.abort('client-abort');
    u.abort('timeout');
    expect(log).toEqual(['abort client-abort']);
    await vi.advanceTimersByTimeAsync(1000);
    expect(log).toEqual(['abort client-abort', 'timedOut', 'done']);
  });
});

describe('pool: body messages', () => {
  function hooks() {
    const sent: ToWorker[] = [];
    const violations: string[] = [];
    let released = 0;
    return {
      sent,
      violations,
      released: () => released,
      hooks: {
        send: (m: ToWorker) => void sent.push(m),
        violation: (why: string) => void violations.push(why),
        timedOut: () => {},
        release: () => void released++,
        failed: (m: { message: string }) => new TftpError(0, m.message),
      },
    };
  }

  it('credit pays for chunks sent as bodyChunk messages; accepted releases the call', async () => {
    const h = hooks();
    const u = startBody(7, 1000, h.hooks);
    bodyMessage(u, { t: 'bodyCredit', id: 7, bytes: 256 * 1024 }, h.hooks);
    await u.write(new Uint8Array(64 * 1024));
    expect(h.sent.map((m) => m.t)).toEqual(['bodyChunk']);
    bodyMessage(u, { t: 'accepted', id: 7 }, h.hooks);
    expect(h.released()).toBe(1);
  });

  it('a put after reading the body is a bad response; a stream head is also cancelled; a chunk is a violation', async () => {
    const h = hooks();
    const u = startBody(3, 1000, h.hooks);
    bodyMessage(u, { t: 'chunk', id: 3, data: new Uint8Array(1) }, h.hooks);
    expect(h.violations).toHaveLength(1);
    bodyMessage(u, { t: 'stream', id: 3, size: undefined }, h.hooks);
    expect(h.sent).toContainEqual({ t: 'cancel', id: 3 });
    const e = await u.finish().catch((err: unknown) => err);
    expect((e as TftpError).cause).toMatchObject({ kind: 'bad-response' });
  });

  it('message check: accepted and bodyCredit are accepted only when well-formed', () => {
    expect(typeof checkFromWorker({ t: 'accepted', id: 1 })).toBe('object');
    expect(typeof checkFromWorker({ t: 'bodyCredit', id: 1, bytes: 4096 })).toBe('object');
    expect(typeof checkFromWorker({ t: 'bodyCredit', id: 1, bytes: 0 })).toBe('string');
    expect(typeof checkFromWorker({ t: 'bodyCredit', id: 1 })).toBe('string');
    expect(typeof checkFromWorker({ t: 'accepted', id: 1, note: 'x' })).toBe('string');
  });
});
