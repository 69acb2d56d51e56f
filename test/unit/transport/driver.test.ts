/**
 * The session driver on fake timers (setTimeout and performance.now both faked): a scripted
 * session stands in for the pure one, so each test checks one duty of the driver: the lazy
 * timer, timeouts, source reads, and that a bug ends one session with ERROR 0.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { performance } from 'node:perf_hooks';
import { toTftpError } from '../../../gateway/src/errors/to-tftp-error.js';
import { TftpError } from '../../../gateway/src/protocol/error-codes.js';
import { SessionDriver, type SessionEnd } from '../../../gateway/src/transport/session-driver.js';
import { newCounters, type Datagram, type Session, type SessionEvent, type SessionInput } from '../../../gateway/src/session/types.js';
import type { ByteReader } from '../../../gateway/src/sources/types.js';

/** A session whose outputs the test sets; it records every input with its time. */
class ScriptedSession implements Session {
  inputs: { type: string; at: number; detail?: unknown }[] = [];
  deadline: number | undefined;
  sends: Datagram[] = [];
  events: SessionEvent[] = [];
  finished = false;
  counters = newCounters();
  onHandle: (input: SessionInput, now: number) => void = () => {};

  handle(input: SessionInput, now: number): void {
    const detail = input.type === 'sourceError' ? (input as { error: Error }).error.message : input.type === 'data' ? (input as { chunk: Uint8Array }).chunk.length : undefined;
    this.inputs.push({ type: input.type, at: now, detail });
    this.onHandle(input, now);
  }
  pollTransmit(): Datagram | undefined {
    return this.sends.shift();
  }
  pollTimeout(): number | undefined {
    return this.deadline;
  }
  pollEvent(): SessionEvent | undefined {
    return this.events.shift();
  }
}

function drive(session: Session, reader?: ByteReader) {
  const sent: Datagram[] = [];
  const ends: SessionEnd[] = [];
  let closes = 0;
  const driver = new SessionDriver(session, {
    send: (d) => sent.push(d),
    reader,
    netascii: false,
    onEnd: (e) => ends.push(e),
    onClose: () => closes++,
  });
  return { driver, sent, ends, closes: () => closes };
}

beforeEach(() => {
  // The driver reads node:perf_hooks' performance.now(); it follows the faked Date.
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setImmediate', 'Date'] });
  vi.spyOn(performance, 'now').mockImplementation(() => Date.now());
});
afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

describe('transport: session driver', () => {
  it('driver: with sendWindow, everything one drain polls out goes in one call, in order (the batching seam); send is not used', () => {
    const s = new ScriptedSession();
    const windows: Datagram[][] = [];
    const single: Datagram[] = [];
    s.sends.push(Uint8Array.of(0, 3, 0, 1), Uint8Array.of(0, 3, 0, 2), Uint8Array.of(0, 3, 0, 3));
    const driver = new SessionDriver(s, {
      send: (d) => single.push(d),
      sendWindow: (ds) => windows.push([...ds]),
      netascii: false,
      onEnd: () => {},
      onClose: () => {},
    });
    driver.start();
    expect(windows.map((w) => w.map((d) => (d as Uint8Array)[3]))).toEqual([[1, 2, 3]]);
    // A lock-step step: one packet, one call; a drain with nothing to send: no call.
    s.sends.push(Uint8Array.of(0, 3, 0, 4));
    driver.onDatagram(Buffer.from([0, 4, 0, 3]));
    driver.onDatagram(Buffer.from([0, 4, 0, 3]));
    expect(windows.map((w) => w.length)).toEqual([3, 1]);
    expect(single).toEqual([]);
  });

  it('driver: one-datagram windows, block after block, each reach sendWindow as exactly that datagram (the array is reused, so it is read during the call)', () => {
    const s = new ScriptedSession();
    const seen: number[][] = [];
    const arrays = new Set<readonly Datagram[]>();
    const driver = new SessionDriver(s, {
      send: () => {
        throw new Error('send must not be used when sendWindow is given');
      },
      sendWindow: (ds) => {
        arrays.add(ds);
        seen.push(ds.map((d) => (d as Uint8Array)[3]));
      },
      netascii: false,
      onEnd: () => {},
      onClose: () => {},
    });
    driver.start();
    for (let block = 1; block <= 5; block++) {
      s.sends.push(Uint8Array.of(0, 3, 0, block));
      driver.onDatagram(Buffer.from([0, 4, 0, block - 1]));
    }
    s.sends.push(Uint8Array.of(0, 3, 0, 6), Uint8Array.of(0, 3, 0, 7));
    driver.onDatagram(Buffer.from([0, 4, 0, 5]));
    expect(seen).toEqual([[1], [2], [3], [4], [5], [6, 7]]);
    // Five lock-step windows through one array; the two-datagram window in an array of its own.
    expect(arrays.size).toBe(2);
  });

  it('driver: start sends what the session queued and arms one timer for its deadline', () => {
    const s = new ScriptedSession();
    s.sends.push(Uint8Array.of(0, 6));
    s.deadline = performance.now() + 1000;
    const { driver, sent } = drive(s);
    driver.start();
    expect(sent).toHaveLength(1);
    expect(vi.getTimerCount()).toBe(1);
    vi.advanceTimersByTime(999);
    expect(s.inputs).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(s.inputs.map((i) => i.type)).toEqual(['timeout']);
  });

  it('driver: a later deadline leaves the timer alone; when it fires early it re-arms for the remainder', () => {
    const s = new ScriptedSession();
    const t0 = performance.now();
    s.deadline = t0 + 1000;
    const { driver } = drive(s);
    driver.start();
    const setTimeoutSpy = vi.spyOn(globalThis, 'setTimeout');
    // An ACK pushes the deadline out: no clearTimeout/setTimeout on that path.
    s.deadline = t0 + 1500;
    driver.onDatagram(Buffer.from([0, 4, 0, 1]));
    expect(setTimeoutSpy).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1000);
    // Fired at t0+1000, before the wanted deadline: re-armed, no timeout delivered.
    expect(s.inputs.map((i) => i.type)).toEqual(['packet']);
    expect(setTimeoutSpy).toHaveBeenCalledTimes(1);
    vi.advanceTimersByTime(500);
    expect(s.inputs.map((i) => i.type)).toEqual(['packet', 'timeout']);
    expect(s.inputs[1].at).toBe(t0 + 1500);
  });

  it('driver: an earlier deadline replaces the timer', () => {
    const s = new ScriptedSession();
    const t0 = performance.now();
    s.deadline = t0 + 1000;
    const { driver } = drive(s);
    driver.start();
    s.deadline = t0 + 100;
    s.onHandle = (input) => {
      if (input.type === 'timeout') s.deadline = undefined;
    };
    driver.onDatagram(Buffer.from([0, 4, 0, 1]));
    expect(vi.getTimerCount()).toBe(1);
    vi.advanceTimersByTime(100);
    expect(s.inputs.map((i) => i.type)).toEqual(['packet', 'timeout']);
  });

  it('driver: an undecodable datagram is refused (false) and not given to the session', () => {
    const s = new ScriptedSession();
    const { driver } = drive(s);
    driver.start();
    expect(driver.onDatagram(Buffer.from([0xff]))).toBe(false);
    expect(s.inputs).toEqual([]);
  });

  it('driver: needData reads the source and feeds the bytes, then end', async () => {
    const s = new ScriptedSession();
    const chunks = [Buffer.alloc(700), null];
    const reads: number[] = [];
    const reader = { size: 700, read: async (min: number) => (reads.push(min), chunks.shift() ?? null), close: async () => {} } as unknown as ByteReader;
    s.events.push({ type: 'needData', minBytes: 512 } as SessionEvent);
    s.onHandle = (input) => {
      if (input.type === 'data') s.events.push({ type: 'needData', minBytes: 512 } as SessionEvent);
    };
    const { driver } = drive(s, reader);
    driver.start();
    await vi.runAllTimersAsync();
    expect(reads).toEqual([512, 512]);
    expect(s.inputs.map((i) => [i.type, i.detail])).toEqual([
      ['data', 700],
      ['end', undefined],
    ]);
  });

  it('driver: an in-memory reader (readNow) is read within the same drain, never through read(); the session is not re-entered while its events drain', () => {
    const s = new ScriptedSession();
    const reads: string[] = [];
    const bytes = Buffer.alloc(1300, 7);
    let offset = 0;
    const reader = {
      size: bytes.length,
      readNow: (min: number) => {
        reads.push(`now ${min}`);
        if (offset >= bytes.length) return null;
        const chunk = bytes.subarray(offset, Math.min(bytes.length, offset + min));
        offset += chunk.length;
        return chunk;
      },
      read: async () => (reads.push('async'), null),
      close: async () => {},
    } as unknown as ByteReader;
    let draining = false;
    s.pollEvent = () => {
      const ev = s.events.shift();
      draining = ev !== undefined;
      return ev;
    };
    s.events.push({ type: 'needData', minBytes: 512 } as SessionEvent);
    s.onHandle = (input) => {
      // handle() must never run from inside the event loop of a drain.
      expect(draining).toBe(false);
      if (input.type === 'data') {
        s.sends.push(Uint8Array.of(0, 3, 0, s.inputs.length));
        s.events.push({ type: 'needData', minBytes: 512 } as SessionEvent);
      }
      if (input.type === 'end') s.finished = true;
    };
    const { driver, sent, closes } = drive(s, reader);
    driver.start();
    // All of it in start()'s one drain: no timer, no microtask was needed.
    expect(reads).toEqual(['now 512', 'now 512', 'now 512', 'now 512']);
    expect(s.inputs.map((i) => [i.type, i.detail])).toEqual([
      ['data', 512],
      ['data', 512],
      ['data', 276],
      ['end', undefined],
    ]);
    expect(sent.map((d) => (d as Uint8Array)[3])).toEqual([1, 2, 3]);
    expect(closes()).toBe(1);
  });

  it('driver: netascii through readNow is encoded as through read() (LF becomes CR LF)', () => {
    const s = new ScriptedSession();
    const chunks: (Buffer | null)[] = [Buffer.from('a\nb'), null];
    const reader = { size: undefined, readNow: () => chunks.shift() ?? null, read: async () => null, close: async () => {} } as unknown as ByteReader;
    const got: string[] = [];
    s.events.push({ type: 'needData', minBytes: 512 } as SessionEvent);
    s.onHandle = (input) => {
      if (input.type === 'data') {
        got.push(Buffer.from((input as { chunk: Uint8Array }).chunk).toString('latin1'));
        s.events.push({ type: 'needData', minBytes: 512 } as SessionEvent);
      }
    };
    const driver = new SessionDriver(s, { send: () => {}, reader, netascii: true, onEnd: () => {}, onClose: () => {} });
    driver.start();
    expect(got).toEqual(['a\r\nb']);
    expect(s.inputs.map((i) => i.type)).toEqual(['data', 'end']);
  });

  it('driver: a source that fails becomes sourceError through the one error map (errors/to-tftp-error.ts), the cause kept for the record', async () => {
    const s = new ScriptedSession();
    const boom = new Error('ECONNRESET from the store');
    const reader = { size: undefined, read: async () => Promise.reject(boom), close: async () => {} } as unknown as ByteReader;
    s.events.push({ type: 'needData', minBytes: 512 } as SessionEvent);
    s.onHandle = (input) => {
      if (input.type === 'sourceError') s.events.push({ type: 'failed', outcome: 'upstream-error', errorCode: 0, errorMessage: 'upstream unavailable' } as SessionEvent);
    };
    const { driver, ends } = drive(s, reader);
    driver.start();
    await vi.runAllTimersAsync();
    expect(s.inputs.map((i) => [i.type, i.detail])).toEqual([['sourceError', toTftpError(boom).message]]);
    expect(ends).toEqual([{ outcome: 'upstream-error', errorCode: 0, errorMessage: 'upstream unavailable', cause: boom }]);
  });

  it('driver: a TftpError from the source reaches the session unchanged', async () => {
    const s = new ScriptedSession();
    const reader = { size: undefined, read: async () => Promise.reject(new TftpError(1, 'gone')), close: async () => {} } as unknown as ByteReader;
    s.events.push({ type: 'needData', minBytes: 512 } as SessionEvent);
    const { driver } = drive(s, reader);
    driver.start();
    await vi.runAllTimersAsync();
    expect(s.inputs.map((i) => [i.type, i.detail])).toEqual([['sourceError', 'gone']]);
  });

  it('driver: a session that throws on a timeout ends with ERROR 0 "internal error", once, and its timer is gone', () => {
    const s = new ScriptedSession();
    s.deadline = performance.now() + 10;
    const bug = new Error('bug');
    s.onHandle = (input) => {
      if (input.type === 'timeout') throw bug;
    };
    const { driver, ends, closes } = drive(s);
    driver.start();
    vi.advanceTimersByTime(10);
    expect(ends).toEqual([{ outcome: 'internal-error', errorCode: 0, errorMessage: 'internal error', cause: bug }]);
    expect(closes()).toBe(1);
    expect(vi.getTimerCount()).toBe(0);
    // Closed: later datagrams are refused and nothing ends twice.
    expect(driver.onDatagram(Buffer.from([0, 4, 0, 1]))).toBe(false);
    driver.cancel('superseded');
    expect(ends).toHaveLength(1);
  });

  it('driver: a finished session is closed at once: onEnd (ok) then onClose, no timer left', () => {
    const s = new ScriptedSession();
    s.deadline = performance.now() + 1000;
    const { driver, ends, closes } = drive(s);
    driver.start();
    s.events.push({ type: 'done' } as SessionEvent);
    s.finished = true;
    driver.onDatagram(Buffer.from([0, 4, 0, 1]));
    expect(ends).toEqual([{ outcome: 'ok' }]);
    expect(closes()).toBe(1);
    expect(vi.getTimerCount()).toBe(0);
  });
});
