/**
 * Reflection and amplification on real UDP (issue 9, section 1), against the default config.
 *
 * A "blind spoofer" is simulated by sending the RRQ and the ACKs FROM the victim's socket
 * while the attacker's logic never reads what that socket receives: it only knows what it
 * could know off-path (its own earlier sessions, the protocol's predictable block numbers).
 * The victim's socket counts what it is sent. Figures are UDP payload bytes both ways (IP and
 * UDP headers, 28 bytes per datagram on IPv4, would make every ratio smaller), printed with a
 * `[reflection]` tag for docs/RELIABILITY.md.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { ack, parse, RawPeer, rrq, type Received } from '../helpers/raw-peer.js';
import { seededBytes, testSeed } from '../helpers/seeded.js';

const SEED = testSeed(0x9ef1_0009);
const BIG = 8 * 1024 * 1024 + 1234;
const quiet = (ms: number) => new Promise((r) => setTimeout(r, ms));
const bytesOf = (got: Received[]) => got.reduce((n, r) => n + r.msg.length, 0);
const round = (x: number, digits = 2) => Math.round(x * 10 ** digits) / 10 ** digits;

/**
 * A connected client that reads its socket and ACKs every DATA block in order (`copies` times
 * each), as the attacker did. Returns the DATA payload bytes it was sent.
 */
async function ackEveryBlock(port: number, name: string, options: Record<string, number>, copies: number, deadlineMs: number) {
  const peer = await RawPeer.open();
  peer.socket.setRecvBufferSize(4 * 1024 * 1024);
  let payload = 0;
  let acksSent = 0;
  let expected = 1;
  let done = false;
  let serverPort = 0;
  const blksize = options.blksize ?? 512;
  const end = Date.now() + deadlineMs;
  try {
    await peer.send(rrq(name, options), port);
    while (!done && Date.now() < end) {
      let r: Received;
      try {
        r = await peer.next(1500);
      } catch {
        // Nothing for a while: say where we are (the client's own timeout).
        if (serverPort) {
          await peer.send(ack((expected - 1) & 0xffff), serverPort);
          acksSent++;
        }
        continue;
      }
      serverPort = r.port;
      const p = parse(r.msg);
      if (p.op === 6) {
        await peer.send(ack(0), serverPort);
        acksSent++;
        continue;
      }
      if (p.op !== 3) break;
      payload += p.data!.length;
      if (p.block !== (expected & 0xffff)) continue;
      expected++;
      if (p.data!.length < blksize) done = true;
      for (let i = 0; i < copies; i++) {
        // The final ACK is awaited: closing the socket right after could drop it.
        if (done) await peer.send(ack(p.block!), serverPort);
        else peer.sendNow(ack(p.block!), serverPort);
        acksSent++;
      }
    }
    return { payload, done, acksSent };
  } finally {
    await peer.close();
  }
}

describe('reflection (a): a connected client that ACKs every block, default config', () => {
  let gw: TestGateway;
  const file = seededBytes(SEED, BIG);

  beforeAll(async () => {
    gw = await startTestGateway({ files: { 'big.bin': file } });
  });
  afterAll(async () => {
    await gw?.stop();
  });

  for (const copies of [1, 2]) {
    it(`reflection: windowsize 64 blksize 65464, each block ACKed ${copies === 1 ? 'once' : 'twice'}: at most 1.1x the file`, async () => {
      const r = await ackEveryBlock(gw.port, 'big.bin', { blksize: 65464, windowsize: 64 }, copies, 60_000);
      expect(r.done).toBe(true);
      const record = await gw.waitForRecord((x) => x.file === 'big.bin' && x.bytes === file.length, 10_000);
      expect(record.outcome).toBe('ok');
      const f = r.payload / file.length;
      console.log(`[reflection] (a) connected client, ACK every block x${copies}, w64 b65464, ${file.length} B file: received ${r.payload} B = ${round(f, 3)}x the file, retransmits ${record.retransmits}, ACK bytes sent ${r.acksSent * 4}`);
      expect(f).toBeGreaterThanOrEqual(1);
      expect(f).toBeLessThanOrEqual(1.1);
    });
  }
});

/**
 * The blind attack: an RRQ from the victim's address, then ACK 0 and ACKs 1..n to every port
 * in `guesses`, paced. The attacker never reads the victim's socket.
 */
async function blindAttack(victim: RawPeer, listenPort: number, request: Buffer, guesses: number[], acks: number, paceMs: number, started?: () => number): Promise<number> {
  let sent = 0;
  const send = (msg: Buffer, port: number) => {
    victim.sendNow(msg, port);
    sent += msg.length;
  };
  const before = started?.() ?? 0;
  send(request, listenPort);
  // A blind attacker cannot see when the session is ready; it waits a safe while for ACK 0.
  // Where the test can tell (single-port), it waits until the session exists, the attacker's
  // best timing, so a loaded machine's slow session setup does not make the attack miss.
  await quiet(100);
  for (let i = 0; started && i < 100 && started() === before; i++) await quiet(20);
  for (let b = 0; b <= acks; b++) {
    for (const port of guesses) send(ack(b), port);
    await quiet(paceMs);
  }
  return sent;
}

/** Ports the attacker learns from its own sessions: the server's TID of each first reply. */
async function learnPorts(port: number, name: string, sessions: number): Promise<number[]> {
  const ports: number[] = [];
  for (let i = 0; i < sessions; i++) {
    const own = await RawPeer.open();
    try {
      await own.send(rrq(name), port);
      const r = await own.next(2000);
      ports.push(r.port);
      // Finish the (small) transfer so the session ends and its socket is released.
      await own.send(ack(parse(r.msg).block!), r.port);
    } finally {
      await own.close();
    }
  }
  return ports;
}

describe('reflection (b): blind spoofed RRQ + ACKs to guessed ports, per-session ports, default config', () => {
  let gw: TestGateway;

  beforeAll(async () => {
    gw = await startTestGateway({ files: { 'big.bin': seededBytes(SEED + 1, BIG), 'small.bin': seededBytes(SEED + 2, 100) } });
  });
  afterAll(async () => {
    await gw?.stop();
  });

  it('reflection: a spoofer guessing the session port from its own previous sessions gets at most 10x', async () => {
    const seen = await learnPorts(gw.port, 'small.bin', 5);
    // Guesses: every port it saw, and its neighbours (a sequential allocator would be caught).
    const guesses = [...new Set(seen.flatMap((p) => [p - 2, p - 1, p, p + 1, p + 2]).filter((p) => p > 0 && p < 65536))];
    const victim = await RawPeer.open();
    try {
      const sent = await blindAttack(victim, gw.port, rrq('big.bin', { blksize: 65464, windowsize: 64 }), guesses, 200, 5);
      await gw.waitForRecord((r) => r.peer.port === victim.port, 20_000);
      await quiet(300);
      const got = bytesOf(victim.received);
      const f = got / sent;
      console.log(`[reflection] (b) blind spoofer, per-session ports, ${guesses.length} guessed ports x 201 ACKs: attacker sent ${sent} B, victim received ${got} B (${victim.received.length} datagrams) = ${round(f)}x`);
      expect(f).toBeLessThanOrEqual(10);
    } finally {
      await victim.close();
    }
  });
});

describe('reflection (c): blind spoofed RRQ + ACKs in single-port mode, default config', () => {
  let gw: TestGateway;

  beforeAll(async () => {
    gw = await startTestGateway({ files: { 'big.bin': seededBytes(SEED + 3, BIG) }, config: { singlePort: true } });
  });
  afterAll(async () => {
    await gw?.stop();
  });

  // Nothing in TFTP is secret in single-port mode: the port is the listening port and block
  // numbers are predictable, so a blind spoofer ACKing 1, 2, 3, ... at a safe pace gets one
  // block per ACK, the slow start and the 16 KiB window cap notwithstanding. Measured and
  // reported, not bounded to 10x: the floor is (blksize + 4) / 4 per ACK.
  it('reflection: single-port, one forged RRQ + ACK 0 then silence: one capped window plus unprovenRetries copies of its first block', async () => {
    const victim = await RawPeer.open();
    try {
      const sent = await blindAttack(victim, gw.port, rrq('big.bin', { blksize: 65464, windowsize: 64 }), [gw.port], 0, 5, () => gw.gateway.counters.sessionsStarted);
      const record = await gw.waitForRecord((r) => r.peer.port === victim.port, 20_000);
      await quiet(300);
      const got = bytesOf(victim.received);
      const data = victim.received.filter((r) => parse(r.msg).op === 3);
      console.log(`[reflection] (c) single-port, RRQ + ACK 0 then silence: attacker sent ${sent} B, victim received ${got} B (${data.length} DATA) = ${round(got / sent)}x, outcome ${record.outcome}`);
      expect(record.outcome).toBe('timeout');
      // blksize lowered to singlePortMaxBlockSize (1468) and the window to 16 KiB: 11 blocks;
      // then the default unprovenRetries (2) resend block 1 only.
      expect(data.length).toBe(11 + 2);
      expect(new Set(data.map((r) => parse(r.msg).block))).toEqual(new Set(Array.from({ length: 11 }, (_, i) => i + 1)));
      expect(data.filter((r) => parse(r.msg).block === 1)).toHaveLength(3);
    } finally {
      await victim.close();
    }
  });

  it('reflection: single-port with singlePortSlowStart, one forged RRQ + ACK 0 then silence: one block plus unprovenRetries copies of it', async () => {
    const slow = await startTestGateway({ files: { 'big.bin': seededBytes(SEED + 3, BIG) }, config: { singlePort: true, singlePortSlowStart: true } });
    const victim = await RawPeer.open();
    try {
      const sent = await blindAttack(victim, slow.port, rrq('big.bin', { blksize: 65464, windowsize: 64 }), [slow.port], 0, 5, () => slow.gateway.counters.sessionsStarted);
      const record = await slow.waitForRecord((r) => r.peer.port === victim.port, 20_000);
      await quiet(300);
      const got = bytesOf(victim.received);
      const data = victim.received.filter((r) => parse(r.msg).op === 3);
      console.log(`[reflection] (c) single-port + slow start, RRQ + ACK 0 then silence: attacker sent ${sent} B, victim received ${got} B (${data.length} DATA) = ${round(got / sent)}x, outcome ${record.outcome}`);
      expect(record.outcome).toBe('timeout');
      expect(data.length).toBe(3);
      expect(new Set(data.map((r) => parse(r.msg).block))).toEqual(new Set([1]));
    } finally {
      await victim.close();
      await slow.stop();
    }
  });

  for (const blksize of [512, 1468, 65464]) {
    it(`reflection: single-port, blksize ${blksize} windowsize 64: one block per forged ACK at most (the floor), measured`, async () => {
      const victim = await RawPeer.open();
      try {
        const acks = 100;
        const sent = await blindAttack(victim, gw.port, rrq('big.bin', { blksize, windowsize: 64 }), [gw.port], acks, 5, () => gw.gateway.counters.sessionsStarted);
        await quiet(300);
        const got = bytesOf(victim.received);
        const data = victim.received.filter((r) => parse(r.msg).op === 3);
        const f = got / sent;
        console.log(`[reflection] (c) blind spoofer, single-port, blksize ${blksize}, ${acks + 1} ACKs: attacker sent ${sent} B, victim received ${got} B (${data.length} DATA) = ${round(f)}x`);
        // At most one window (16 KiB, or one block when a block is bigger) per ACK, plus the
        // OACK and the first-packet and unproven retries.
        const window = Math.max(blksize, Math.floor((16 * 1024) / blksize) * blksize);
        expect(data.length).toBeGreaterThan(0);
        expect(got).toBeLessThanOrEqual((acks + 1 + 3) * (window + 4) + 100);
      } finally {
        await victim.close();
      }
    });
  }
});

describe('reflection (d): an unacknowledged RRQ, default config', () => {
  let gw: TestGateway;

  beforeAll(async () => {
    gw = await startTestGateway({ files: { 'big.bin': seededBytes(SEED + 4, BIG), a: seededBytes(SEED + 5, 4096) } });
  });
  afterAll(async () => {
    await gw?.stop();
  });

  it('reflection: an RRQ with options is answered by one OACK, at most 2x its size', async () => {
    const victim = await RawPeer.open();
    try {
      const req = rrq('big.bin', { blksize: 65464, windowsize: 64, tsize: 0 });
      victim.sendNow(req, gw.port);
      const record = await gw.waitForRecord((r) => r.peer.port === victim.port, 10_000);
      await quiet(300);
      expect(record.outcome).toBe('timeout');
      expect(victim.received).toHaveLength(1);
      expect(parse(victim.received[0].msg).op).toBe(6);
      const f = bytesOf(victim.received) / req.length;
      console.log(`[reflection] (d) unacknowledged RRQ with options: ${req.length} B in, ${bytesOf(victim.received)} B out = ${round(f)}x`);
      expect(f).toBeLessThanOrEqual(2);
    } finally {
      await victim.close();
    }
  });

  it('reflection: an RRQ without options gets one DATA per request datagram (the RFC 1350 floor), never more', async () => {
    const victim = await RawPeer.open();
    try {
      const req = rrq('a');
      const repeats = 3;
      for (let i = 0; i < repeats; i++) {
        victim.sendNow(req, gw.port);
        await quiet(30);
      }
      const record = await gw.waitForRecord((r) => r.peer.port === victim.port, 10_000);
      await quiet(300);
      expect(record.outcome).toBe('timeout');
      expect(victim.received).toHaveLength(repeats);
      for (const r of victim.received) expect(parse(r.msg)).toMatchObject({ op: 3, block: 1 });
      const f = bytesOf(victim.received) / (repeats * req.length);
      console.log(`[reflection] (d) unacknowledged RRQ without options ("a", octet): ${repeats} x ${req.length} B in, ${bytesOf(victim.received)} B out = ${round(f)}x (one 516-byte DATA per request)`);
      expect(victim.received.length).toBe(repeats);
    } finally {
      await victim.close();
    }
  });
});
