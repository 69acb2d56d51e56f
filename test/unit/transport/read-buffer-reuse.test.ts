/**
 * Read buffers reused per session (issue 13, sources/read-buffer-pool.ts): a real folder source
 * (FileReader, no cache), a real ReadSession and a real SessionDriver whose window sender is
 * recorded. The driver lets the reader reuse a buffer only once the session has dropped all of
 * its bytes (acknowledged) and no send can still point at them; a resent window must carry the
 * file's bytes, not those of a later read that landed in a reused buffer.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { performance } from 'node:perf_hooks';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodePacket, encodeAck } from '../../../gateway/src/protocol/packet.js';
import { normalizePath } from '../../../gateway/src/protocol/path.js';
import { ReadSession } from '../../../gateway/src/session/read-session.js';
import { datagramBytes, type Datagram } from '../../../gateway/src/session/types.js';
import { LocalDirSource } from '../../../gateway/src/sources/local-dir.js';
import { READ_BUFFERS, ReadBufferPool } from '../../../gateway/src/sources/read-buffer-pool.js';
import { SessionDriver } from '../../../gateway/src/transport/session-driver.js';
import type { ByteReader } from '../../../gateway/src/sources/types.js';
import { noteSends } from '../../../gateway/src/transport/batch-send/queued-sends.js';
import type dgram from 'node:dgram';
import { ScriptedReceiver, seededRandom, TIMING } from '../../helpers/fake-link.js';

const BLOCK = 512;
const WINDOW = 2;
let root: string;

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'tftpfn-reuse-'));
  // The driver's timer and clock are fake; file reads are real (libuv's thread pool).
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
  vi.spyOn(performance, 'now').mockImplementation(() => Date.now());
});
afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
  rmSync(root, { recursive: true, force: true });
});

/**
 * Waits for real I/O (a file read on libuv's thread pool) until `cond` holds; bounded by 10 s of
 * real time (hrtime: Date and performance.now are fake here), which a loaded machine may need.
 */
async function until(cond: () => boolean, what: string): Promise<void> {
  const start = process.hrtime.bigint();
  while (!cond() && process.hrtime.bigint() - start < 10_000_000_000n) await new Promise((r) => setImmediate(r));
  if (!cond()) throw new Error(`timed out waiting for ${what}`);
}

interface Sent {
  block: number;
  /** The payload as it was when it went out. */
  atSend: Buffer;
  /** The view the session handed over, to see later whether its buffer was reused. */
  view: Uint8Array;
}

async function transfer(fileBytes: number, netascii = false) {
  const file = randomBytes(fileBytes);
  writeFileSync(join(root, 'f.bin'), file);
  const source = new LocalDirSource(root, { readAheadBytes: BLOCK * WINDOW, cacheTtlMs: 0 });
  const reader = await source.openRead(normalizePath('f.bin'));
  const session = new ReadSession({ ...TIMING, blockSize: BLOCK, windowSize: WINDOW, oack: null }, performance.now());
  const sent: Sent[] = [];
  const record = (d: Datagram) => {
    const parts = d as readonly Uint8Array[];
    const bytes = datagramBytes(d);
    sent.push({ block: (bytes[2] << 8) | bytes[3], atSend: Buffer.from(bytes.subarray(4)), view: parts[1] });
  };
  let ended = false;
  const driver = new SessionDriver(session, {
    send: record,
    sendWindow: (ds) => ds.forEach(record),
    reader,
    netascii,
    onEnd: () => {
      ended = true;
    },
    onClose: () => {},
  });
  const expected = (block: number) => file.subarray((block - 1) * BLOCK, block * BLOCK);
  return { file, session, driver, sent, expected, ended: () => ended };
}

describe('read buffers reused per session', () => {
  it('read buffer reuse: a window resent on timeout after a buffer was reused carries the file bytes of its blocks', async () => {
    const reusedBefore = READ_BUFFERS.reused;
    const t = await transfer(16 * BLOCK);
    t.driver.start();
    // Windows of 2 blocks; each read is one window (readAheadBytes = 2 blocks). ACK three windows,
    // so the buffers of windows 1 and 2 are released and the reads of windows 4 and 5 reuse them.
    let acked = 0;
    for (let w = 1; w <= 3; w++) {
      await until(() => t.sent.length >= w * WINDOW, `window ${w}`);
      acked = w * WINDOW;
      t.driver.onDatagram(encodeAck(acked));
    }
    await until(() => t.sent.length >= 4 * WINDOW, 'window 4');
    // Let the read-ahead of window 5 land in a reused buffer before the timeout.
    await until(() => READ_BUFFERS.reused - reusedBefore >= 2, 'two reads into reused buffers');
    const firstSendCount = t.sent.length;
    // Window 4 (blocks 7, 8) is lost: the timeout resends it.
    vi.advanceTimersByTime(TIMING.timeoutMs + 10);
    const resent = t.sent.slice(firstSendCount);
    expect(resent.map((s) => s.block)).toEqual([7, 8]);
    for (const s of resent) expect(s.atSend.equals(t.expected(s.block))).toBe(true);
    // Every block sent so far carried its own bytes when it went out.
    for (const s of t.sent) expect(s.atSend.equals(t.expected(s.block))).toBe(true);
    // And the reuse was real: the views of block 1 (window 1's buffer) now show a later read.
    const block1 = t.sent.find((s) => s.block === 1)!;
    expect(Buffer.from(block1.view).equals(t.expected(1))).toBe(false);
    // The rest of the transfer completes with the right bytes.
    for (let i = 0; i < 20 && !t.ended(); i++) {
      await until(() => t.sent[t.sent.length - 1].block > acked, `the window after block ${acked}`);
      acked = t.sent[t.sent.length - 1].block;
      t.driver.onDatagram(encodeAck(acked));
    }
    expect(t.ended()).toBe(true);
    expect(Math.max(...t.sent.map((s) => s.block))).toBe(17);
    for (const s of t.sent) expect(s.atSend.equals(s.block === 17 ? Buffer.alloc(0) : t.expected(s.block))).toBe(true);
  });

  it('read buffer reuse: nothing is released before it is acknowledged, so an unacknowledged window keeps its bytes', async () => {
    const t = await transfer(8 * BLOCK);
    t.driver.start();
    await until(() => t.sent.length >= WINDOW, 'window 1');
    t.driver.onDatagram(encodeAck(2)); // proves the peer: a timeout now resends the whole window
    await until(() => t.sent.length >= 2 * WINDOW, 'window 2');
    // The read-ahead of window 3 takes window 1's buffer (acknowledged); window 2 is in flight.
    await until(() => !Buffer.from(t.sent[0].view).equals(t.expected(1)), 'the read-ahead into a reused buffer');
    vi.advanceTimersByTime(TIMING.timeoutMs + 10);
    expect(t.sent.map((s) => s.block)).toEqual([1, 2, 3, 4, 3, 4]);
    for (const s of t.sent) expect(s.atSend.equals(t.expected(s.block))).toBe(true);
    // Window 2's views still show its own bytes; window 1's buffer holds window 3's now.
    for (const s of t.sent.filter((x) => x.block >= 3)) expect(Buffer.from(s.view).equals(t.expected(s.block))).toBe(true);
    expect(Buffer.from(t.sent[0].view).equals(t.expected(5))).toBe(true);
  });

  it('read buffer reuse: while a send waits in a socket queue nothing is released; the next read after it left releases all that was acknowledged', async () => {
    const t = await transfer(16 * BLOCK);
    const queue = { n: 1 };
    noteSends({ getSendQueueCount: () => queue.n } as unknown as dgram.Socket);
    t.driver.start();
    await until(() => t.sent.length >= WINDOW, 'window 1');
    t.driver.onDatagram(encodeAck(2));
    await until(() => t.sent.length >= 2 * WINDOW, 'window 2');
    t.driver.onDatagram(encodeAck(4));
    await until(() => t.sent.length >= 3 * WINDOW, 'window 3');
    // Window 4's bytes are read by now (read-ahead); windows 1 and 2 were not given back.
    await new Promise((r) => setImmediate(r));
    for (const s of t.sent) expect(Buffer.from(s.view).equals(t.expected(s.block))).toBe(true);
    queue.n = 0;
    t.driver.onDatagram(encodeAck(6));
    await until(() => t.sent.length >= 4 * WINDOW, 'window 4');
    // Windows 1-3 (blocks 1-6, all acknowledged) went back together; window 5 was read into one.
    const reusedOne = () => t.sent.some((s) => s.block <= 6 && !Buffer.from(s.view).equals(t.expected(s.block)));
    await until(reusedOne, 'an acknowledged window buffer reused');
    for (const s of t.sent) expect(s.atSend.equals(t.expected(s.block))).toBe(true);
  });

  it('read buffer reuse, lossy link: over 25 seeds with 15% of DATA and ACKs dropped, every download is byte-identical and buffers were reused', async () => {
    const reusedBefore = READ_BUFFERS.reused;
    for (let seed = 1; seed <= 25; seed++) {
      const rnd = seededRandom(seed);
      const fileBytes = 30 * BLOCK + ((seed * 37) % BLOCK);
      const file = randomBytes(fileBytes);
      writeFileSync(join(root, 'f.bin'), file);
      const source = new LocalDirSource(root, { readAheadBytes: BLOCK * 4, cacheTtlMs: 0 });
      const opened = await source.openRead(normalizePath('f.bin'));
      // Counts reads in flight, so the clock moves only once a read has landed: the file system
      // is real, time is not, and a read must not look like a slow link.
      let reading = 0;
      const reader: ByteReader = {
        size: opened.size,
        read: (hint) => {
          reading++;
          return opened.read(hint).finally(() => reading--);
        },
        release: (bytes) => opened.release?.(bytes),
        close: () => opened.close(),
      };
      const session = new ReadSession({ ...TIMING, maxRetries: 30, firstPacketRetries: 30, blockSize: BLOCK, windowSize: 4, oack: null }, performance.now());
      const client = new ScriptedReceiver({ blockSize: BLOCK, windowSize: 4, expectOack: false });
      // What the wire carries is a copy taken at send time, as the kernel takes it.
      const toClient: Buffer[] = [];
      const onWire = (d: Datagram) => {
        if (rnd() >= 0.15) toClient.push(Buffer.from(datagramBytes(d)));
      };
      let outcome: string | undefined;
      const driver = new SessionDriver(session, {
        send: onWire,
        sendWindow: (ds) => ds.forEach(onWire),
        reader,
        netascii: false,
        onEnd: (e) => {
          outcome = e.outcome;
        },
        onClose: () => {},
      });
      driver.start();
      for (let step = 0; step < 5000 && !(outcome !== undefined && (client.done || client.gaveUp)); step++) {
        if (toClient.length > 0) {
          for (const d of toClient.splice(0)) client.handlePacket(decodePacket(d), Date.now());
          for (let a = client.pollTransmit(); a; a = client.pollTransmit()) if (rnd() >= 0.15) driver.onDatagram(Buffer.from(a));
          continue;
        }
        // Nothing on the wire: let a file read land (real I/O), else move the clock.
        if (reading > 0) {
          await until(() => reading === 0, `seed ${seed}: a file read`);
          continue;
        }
        vi.advanceTimersByTime(100);
        client.handleTimeout(Date.now());
        for (let a = client.pollTransmit(); a; a = client.pollTransmit()) if (rnd() >= 0.15) driver.onDatagram(Buffer.from(a));
      }
      expect(outcome, `seed ${seed}`).toBe('ok');
      expect(client.done, `seed ${seed}`).toBe(true);
      expect(client.violations, `seed ${seed}`).toEqual([]);
      expect(Buffer.from(client.received).equals(file), `seed ${seed}: the file arrived intact`).toBe(true);
    }
    expect(READ_BUFFERS.reused - reusedBefore).toBeGreaterThan(25 * 5);
  });

  it('read session: needData says how many source bytes the peer has acknowledged (releasedBytes)', () => {
    const s = new ReadSession({ ...TIMING, blockSize: BLOCK, windowSize: WINDOW, oack: null }, 0);
    const events = () => {
      const out = [];
      for (let e = s.pollEvent(); e; e = s.pollEvent()) out.push(e);
      while (s.pollTransmit()) {}
      return out;
    };
    expect(events()).toEqual([{ type: 'needData', minBytes: BLOCK * WINDOW, releasedBytes: 0 }]);
    s.handle({ type: 'data', chunk: new Uint8Array(BLOCK * WINDOW) }, 0);
    expect(events()).toEqual([{ type: 'needData', minBytes: BLOCK * WINDOW, releasedBytes: 0 }]);
    s.handle({ type: 'packet', packet: { op: 4, block: 1 } }, 1);
    s.handle({ type: 'data', chunk: new Uint8Array(BLOCK * WINDOW) }, 1);
    // Block 1 acknowledged; block 2 is still in flight, its bytes still the session's.
    expect(events()).toEqual([{ type: 'needData', minBytes: BLOCK * WINDOW, releasedBytes: BLOCK }]);
  });

  it('read buffer pool: gives back buffers of the size asked, newest first, and holds at most maxBytes', () => {
    const pool = new ReadBufferPool(3 * 1024);
    const a = pool.take(1024);
    const b = pool.take(1024);
    const c = pool.take(2048);
    expect([pool.allocated, pool.reused]).toEqual([3, 0]);
    pool.give(a);
    pool.give(b);
    pool.give(c); // 4 KiB would exceed 3 KiB: left to the collector
    expect(pool.bytes).toBe(2048);
    expect(pool.take(1024)).toBe(b);
    expect(pool.take(1024)).toBe(a);
    expect(pool.take(2048)).not.toBe(c);
    expect(pool.reused).toBe(2);
  });
});
