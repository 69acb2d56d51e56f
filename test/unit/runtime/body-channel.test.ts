/**
 * The credit protocol of an upload read by a function (runtime/body-channel.ts), with the two
 * halves joined by hand-driven queues: every message is delivered when the test says so, so
 * each step is deterministic (no timers, no sockets).
 */
import { describe, expect, it } from 'vitest';
import { UploadAbortedError } from '../../../gateway/src/runtime/body-channel.js';
import { BodyInbox } from '../../../gateway/src/runtime/body-inbox.js';
import { BodySender } from '../../../gateway/src/runtime/body-sender.js';

function pair(windowBytes: number) {
  const toFunction: Array<() => void> = [];
  const toGateway: Array<() => void> = [];
  const sent: number[] = [];
  const credits: number[] = [];
  let sender!: BodySender;
  const inbox = new BodyInbox({ credit: (bytes) => void (credits.push(bytes), toGateway.push(() => sender.onCredit(bytes))) }, windowBytes);
  sender = new BodySender(
    {
      send: (chunk) => void (sent.push(chunk.byteLength), toFunction.push(() => inbox.onChunk(chunk))),
      end: () => void toFunction.push(() => inbox.onEnd()),
      abort: (reason) => void toFunction.push(() => inbox.onAbort(reason)),
    },
    windowBytes,
    0,
  );
  const deliver = async () => {
    for (let i = 0; i < 1000 && (toFunction.length > 0 || toGateway.length > 0); i++) {
      for (const m of toGateway.splice(0)) m();
      for (const m of toFunction.splice(0)) m();
      await Promise.resolve();
    }
  };
  return { inbox, sender, sent, credits, deliver, iterator: inbox.body[Symbol.asyncIterator]() };
}

describe('body channel: credit', () => {
  it('sends nothing before the function asks for its first chunk', async () => {
    const p = pair(1000);
    let written = false;
    void p.sender.write(new Uint8Array(100)).then(() => (written = true));
    await p.deliver();
    expect(p.sent).toEqual([]);
    expect(written).toBe(false);
    expect(p.sender.waiting).toBe(true);
    const next = p.iterator.next();
    expect(p.credits).toEqual([1000]);
    await p.deliver();
    expect(written).toBe(true);
    expect((await next).value?.byteLength).toBe(100);
  });

  it('never sends more than the window the function has not consumed; top-ups follow consumption', async () => {
    const p = pair(1000);
    void p.iterator.next().then(() => {});
    await p.deliver();
    // The first next() took the first chunk; queue 9 more chunks of 200 without reading.
    const writes: boolean[] = [];
    for (let i = 0; i < 10; i++) {
      let done = false;
      const w = p.sender.write(new Uint8Array(200)).then(() => (done = true));
      await p.deliver();
      writes.push(done);
      if (!done) {
        // Blocked: the window (1000) is out: one chunk consumed, four queued in the function.
        expect(p.sent.reduce((a, b) => a + b, 0)).toBe(1000);
        // The function reads one: it holds 600, above half the window: no top-up yet.
        await p.iterator.next();
        await p.deliver();
        expect(done).toBe(false);
        // A second read: 400 left, below half the window: credit comes back, the write goes.
        await p.iterator.next();
        await p.deliver();
        expect(done).toBe(true);
        await w;
        break;
      }
    }
    expect(writes.slice(0, 5)).toEqual([true, true, true, true, true]);
    expect(writes[5]).toBe(false);
    expect(p.credits).toEqual([1000, 600]);
  });

  it('caps credit from the function side at the window: an over-granting worker cannot make the gateway queue more', () => {
    const sender = new BodySender({ send: () => {}, end: () => {}, abort: () => {} }, 1000, 0);
    sender.onCredit(10_000);
    sender.onCredit(10_000);
    expect(sender.available).toBe(1000);
  });

  it('the end reaches the iterator after the queued chunks', async () => {
    const p = pair(1000);
    const first = p.iterator.next();
    await p.deliver();
    await p.sender.write(new Uint8Array([1, 2, 3]));
    p.sender.end();
    await p.deliver();
    expect(Array.from((await first).value!)).toEqual([1, 2, 3]);
    expect((await p.iterator.next()).done).toBe(true);
  });
});

describe('body channel: aborts and answers', () => {
  it('an abort makes the iterator throw an UploadAbortedError with the reason, and fails a write waiting for credit', async () => {
    const p = pair(100);
    void p.iterator.next();
    await p.deliver();
    // Write until one waits for credit (the function reads nothing more).
    let blocked: Promise<unknown> | undefined;
    for (let i = 0; i < 10 && !blocked; i++) {
      let done = false;
      const w = p.sender.write(new Uint8Array(30)).then(() => (done = true)).catch((e: unknown) => e);
      await p.deliver();
      if (!done) blocked = w;
    }
    expect(p.sender.waiting).toBe(true);
    p.sender.abort('client-abort');
    await p.deliver();
    expect(await blocked).toBeInstanceOf(UploadAbortedError);
    const e = await p.iterator.next().catch((err: unknown) => err);
    expect(e).toBeInstanceOf(UploadAbortedError);
    expect((e as UploadAbortedError).code).toBe('TFTP_UPLOAD_ABORTED');
    expect((e as UploadAbortedError).reason).toBe('client-abort');
  });

  it('after the function answered, the rest of the upload is dropped: writes resolve, nothing is sent', async () => {
    const p = pair(100);
    void p.iterator.next();
    await p.deliver();
    await p.sender.write(new Uint8Array(100));
    const blocked = p.sender.write(new Uint8Array(50));
    p.inbox.close();
    p.sender.dropRest();
    await blocked;
    await p.sender.write(new Uint8Array(50));
    expect(p.sent).toEqual([100]);
  });

  it('a failed function fails every later write with its error', async () => {
    const p = pair(100);
    const boom = new Error('boom');
    p.sender.fail(boom);
    await expect(p.sender.write(new Uint8Array(1))).rejects.toBe(boom);
  });

  it('request.body can be iterated once', () => {
    const p = pair(100);
    expect(() => p.inbox.body[Symbol.asyncIterator]()).toThrow(/once/);
  });
});

describe('body channel: gathering blocks into messages', () => {
  it('gathers small chunks into messages of messageBytes, in order, and flush() sends the rest', async () => {
    const messages: Uint8Array[] = [];
    const sender = new BodySender({ send: (c) => void messages.push(c), end: () => {}, abort: () => {} }, 1000, 100);
    sender.onCredit(1000);
    const all: number[] = [];
    for (let i = 0; i < 9; i++) {
      const chunk = new Uint8Array(30).fill(i);
      all.push(...chunk);
      await sender.write(chunk);
    }
    // 270 bytes: two messages of 90 (a third chunk would pass 100), 90 gathered.
    expect(messages.map((m) => m.byteLength)).toEqual([90, 90]);
    await sender.flush();
    expect(messages.map((m) => m.byteLength)).toEqual([90, 90, 90]);
    expect(messages.flatMap((m) => Array.from(m))).toEqual(all);
    // Each message owns its buffer (a view would drag the whole ArrayBuffer through a clone).
    for (const m of messages) expect(m.buffer.byteLength).toBe(m.byteLength);
  });

  it('a gathered message waits for credit like a chunk; the write that fills it waits with it', async () => {
    const messages: Uint8Array[] = [];
    const sender = new BodySender({ send: (c) => void messages.push(c), end: () => {}, abort: () => {} }, 1000, 100);
    await sender.write(new Uint8Array(60));
    let done = false;
    const w = sender.write(new Uint8Array(60)).then(() => (done = true));
    await Promise.resolve();
    expect(done).toBe(false);
    expect(messages).toEqual([]);
    sender.onCredit(60);
    await w;
    expect(messages.map((m) => m.byteLength)).toEqual([60]);
  });
});
