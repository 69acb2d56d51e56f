/**
 * Live fuzz: hostile datagrams (test/robustness/datagrams.ts) at two real gateways running in
 * a child process (per-session ports with uploads on, and single-port), from strangers, at a
 * live session's port while a transfer runs, and from sessions' own peers to their TIDs.
 *
 * Afterwards: nothing escaped in the gateway process (uncaught exceptions, rejections), it
 * answered a liveness ping throughout (no hang), every session the fuzz opened ended, and both
 * gateways serve byte-identical files, windowed and lock-step, and accept an upload.
 */
import { fork, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { get, put } from '../../client/index.js';
import { startGateway, type RunningGateway } from '../../gateway/src/index.js';
import { makeRoot } from '../../test/helpers/gateway.js';
import { prng, seededBytes } from '../../test/helpers/seeded.js';
import { ack, parse, RawPeer, rrq } from '../../test/helpers/raw-peer.js';
import { hostileDatagram, hostileDatagramAvoiding, type Rand } from '../../test/robustness/datagrams.js';

const SMALL = 3000;
const BIG = 1024 * 1024;
/** Sent between yields: inside a default socket buffer, so most reach the decoders. */
const BATCH = 64;

type ChildMessage =
  | { type: 'ready'; ports: { perSession: number; single: number }; writeRoots: string[] }
  | { type: 'escaped'; error: string }
  | { type: 'stats'; id: number; stats: GatewayStats };

interface GatewayStats {
  perSession: Record<string, number>;
  single: Record<string, number>;
  rssBytes: number;
}

function files(seed: number) {
  return { 'a.bin': seededBytes(seed + 1, SMALL), 'big.bin': seededBytes(seed + 2, BIG), 'dir/x.txt': 'hello\n' };
}

/** The gateway process: two gateways, and answers to `stats` pings. */
export async function liveChild(): Promise<void> {
  const seed = Number(process.env.FUZZ_SEED);
  const root = makeRoot(files(seed));
  const writeRoots = [mkdtempSync(join(tmpdir(), 'tftpfn-fuzz-up-')), mkdtempSync(join(tmpdir(), 'tftpfn-fuzz-up1-'))];
  process.on('uncaughtException', (e) => process.send?.({ type: 'escaped', error: String((e as Error)?.stack ?? e) }));
  process.on('unhandledRejection', (e) => process.send?.({ type: 'escaped', error: String((e as Error)?.stack ?? e) }));
  // Short timers so the sessions the fuzz opens end quickly; a high per-client cap because every
  // sender is 127.0.0.1; maxTimeoutMs caps what a fuzzed "timeout 255" can make a session wait.
  const config = { hosts: ['127.0.0.1'], port: 0, root, timeoutMs: 200, maxTimeoutMs: 400, retries: 3, firstPacketRetries: 1, maxSessionsPerClient: 100_000, maxSessions: 100_000 };
  const logger = pino({ level: 'silent' });
  const perSession: RunningGateway = await startGateway({ config: { ...config, writeRoot: writeRoots[0] }, logger });
  const single: RunningGateway = await startGateway({ config: { ...config, writeRoot: writeRoots[1], singlePort: true }, logger });
  const counters = (g: RunningGateway) => ({ ...(g.gateway.counters as unknown as Record<string, number>), activeSessions: g.gateway.activeSessions });
  process.on('message', async (m: { type: string; id?: number }) => {
    if (m.type === 'stats') process.send?.({ type: 'stats', id: m.id, stats: { perSession: counters(perSession), single: counters(single), rssBytes: process.memoryUsage().rss } });
    if (m.type === 'close') {
      await perSession.close(0);
      await single.close(0);
      for (const d of [root, ...writeRoots]) rmSync(d, { recursive: true, force: true });
      process.exit(0);
    }
  });
  process.send?.({ type: 'ready', ports: { perSession: perSession.port, single: single.port }, writeRoots });
}

class Child {
  private seq = 0;
  private readonly waiting = new Map<number, (s: GatewayStats) => void>();
  readonly escaped: string[] = [];
  exited: string | undefined;
  constructor(readonly proc: ChildProcess) {
    proc.on('message', (m: ChildMessage) => {
      if (m.type === 'escaped') this.escaped.push(m.error);
      if (m.type === 'stats') this.waiting.get(m.id)?.(m.stats);
    });
    proc.on('exit', (code, signal) => (this.exited = `exited with code ${code} signal ${signal}`));
  }
  /** Counters, or a rejection when the gateway process does not answer within `ms` (a hang). */
  stats(ms = 5000): Promise<GatewayStats> {
    const id = ++this.seq;
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        this.waiting.delete(id);
        reject(new Error(`the gateway process did not answer a ping within ${ms} ms (${this.exited ?? 'still running'})`));
      }, ms);
      this.waiting.set(id, (s) => {
        clearTimeout(t);
        this.waiting.delete(id);
        resolve(s);
      });
      this.proc.send({ type: 'stats', id });
    });
  }
}

async function counterSocket() {
  const socket = dgram.createSocket('udp4');
  let received = 0;
  socket.on('message', () => received++);
  socket.on('error', () => {});
  await new Promise<void>((r) => socket.bind(0, '127.0.0.1', r));
  return { socket, received: () => received, close: () => new Promise<void>((r) => socket.close(() => r())) };
}

/**
 * Sends `count` hostile datagrams. `pauseMs` after each batch paces a burst aimed at a live
 * session's port: the sender runs in its own process and can outpace the gateway, and a flood
 * that fills the session socket's buffer drops the real client's ACKs (a plain DoS by volume,
 * which no server-side code can prevent), not what this fuzz is after.
 */
async function blast(rand: Rand, socket: dgram.Socket, port: number, count: number, opts: { names?: readonly string[]; avoidOps?: number[]; pauseMs?: number } = {}): Promise<void> {
  for (let i = 0; i < count; i++) {
    socket.send(opts.avoidOps ? hostileDatagramAvoiding(rand, opts.avoidOps, opts.names) : hostileDatagram(rand, opts.names), port, '127.0.0.1');
    if (i % BATCH === BATCH - 1) {
      if (opts.pauseMs) await new Promise((r) => setTimeout(r, opts.pauseMs));
      else await yieldToLoop();
    }
  }
  await yieldToLoop();
}

/** A lock-step reader of big.bin that reports its TID, going slowly while `slow()` holds. */
async function keeper(peer: RawPeer, port: number, onTid: (p: number) => void, slow: () => boolean): Promise<Buffer> {
  await peer.send(rrq('big.bin'), port);
  const chunks: Buffer[] = [];
  let tid = -1;
  let expected = 1;
  let silent = 0;
  for (let guard = 0; guard < 3 * (BIG / 512 + 1); guard++) {
    let r;
    try {
      r = await peer.next(1000);
      silent = 0;
    } catch (e) {
      // As a real client does: our ACK (or its DATA) was lost in the flood; say it again.
      if (++silent > 10) throw e;
      if (tid === -1) await peer.send(rrq('big.bin'), port);
      else await peer.send(ack(expected - 1), tid);
      continue;
    }
    const p = parse(r.msg);
    if (p.op !== 3) throw new Error(`keeper: expected DATA ${expected}, got op ${p.op} code ${p.code} "${p.message}"`);
    if (tid === -1) onTid((tid = r.port));
    if (r.port !== tid) continue;
    if (p.block !== (expected & 0xffff)) {
      if (p.block === ((expected - 1) & 0xffff)) await peer.send(ack(expected - 1), tid);
      continue;
    }
    chunks.push(p.data!);
    if (slow()) await new Promise((res) => setTimeout(res, 3));
    await peer.send(ack(expected), tid);
    if (p.data!.length < 512) return Buffer.concat(chunks);
    expected++;
  }
  throw new Error('keeper: no final block');
}

export async function runLive(opts: { seed: number; datagrams: number; deadlineMs: number }): Promise<{ summary: string; failures: string[] }> {
  const failures: string[] = [];
  const rand = prng(opts.seed ^ 0x11ee);
  const proc = fork(fileURLToPath(import.meta.url), [], { env: { ...process.env, FUZZ_ROLE: 'gateway', FUZZ_SEED: String(opts.seed) }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const child = new Child(proc);
  let writeRoots: string[] = [];
  const ready = await new Promise<{ perSession: number; single: number }>((resolve, reject) => {
    proc.on('message', (m: ChildMessage) => {
      if (m.type !== 'ready') return;
      writeRoots = m.writeRoots;
      resolve(m.ports);
    });
    proc.on('exit', () => reject(new Error(`gateway process ${child.exited}`)));
  });
  const expected = files(opts.seed);
  const started = performance.now();
  const startStats = await child.stats();
  let sent = 0;
  let pings = 0;
  let maxPingMs = 0;
  const closers: (() => Promise<void>)[] = [];
  /** Pings the gateway process every 50,000 datagrams: a hang fails the run there. */
  const checkpoint = async () => {
    const t = performance.now();
    await child.stats();
    pings++;
    maxPingMs = Math.max(maxPingMs, performance.now() - t);
  };

  try {
    const n = opts.datagrams;
    const share = { a: Math.floor(n * 0.4), b: Math.floor(n * 0.15), c: Math.floor(n * 0.25) };
    const d = n - share.a - share.b - share.c;

    // A: at the per-session listener, from 8 stranger sockets.
    const strangers = await Promise.all(Array.from({ length: 8 }, counterSocket));
    closers.push(...strangers.map((s) => s.close));
    for (let done = 0; done < share.a; done += 10_000) {
      const k = Math.min(10_000, share.a - done);
      await blast(rand, strangers[(done / 10_000) % 8].socket, ready.perSession, k);
      sent += k;
      if (sent % 50_000 < 10_000) await checkpoint();
    }

    // B: at a live session's port from a stranger, while a slow lock-step reader keeps it going.
    const keeperPeer = await RawPeer.open();
    closers.push(() => keeperPeer.close());
    let slow = true;
    let tidReady!: (p: number) => void;
    const tid = new Promise<number>((r) => (tidReady = r));
    const kept = keeper(keeperPeer, ready.perSession, tidReady, () => slow);
    const tidPort = await Promise.race([tid, kept.then(() => Promise.reject(new Error('keeper ended before block 1')))]);
    const strangerB = await counterSocket();
    closers.push(strangerB.close);
    for (let done = 0; done < share.b; done += 10_000) {
      const k = Math.min(10_000, share.b - done);
      await blast(rand, strangerB.socket, tidPort, k, { pauseMs: 2 });
      sent += k;
      if (sent % 50_000 < 10_000) await checkpoint();
    }
    slow = false;
    const keptBytes = await kept;
    if (!keptBytes.equals(expected['big.bin'])) failures.push('the transfer blasted by a stranger did not arrive byte-identical');

    // C: sessions' own peers (RRQ or WRQ), 200 datagrams each to their TID, no ERRORs (an
    // ERROR from the peer ends its session at once). 40 sockets reused round-robin: a new
    // request from a socket whose session still runs supersedes it, another path worth fuzzing.
    const peers = await Promise.all(Array.from({ length: 40 }, () => RawPeer.open()));
    closers.push(...peers.map((p) => () => p.close()));
    for (let s = 0, done = 0; done < share.c; s++) {
      const peer = peers[s % peers.length];
      peer.drain();
      peer.received.length = 0;
      const opening =
        s % 3 === 2
          ? Buffer.concat([Buffer.from([0, 2]), Buffer.from(`up-${s % 97}.bin\0octet\0x-fuzz\0${s}\0`), ...(s % 2 ? [Buffer.from('blksize\x001024\0windowsize\x004\0')] : [])])
          : // An unknown option (ignored, RFC 2347) makes every request differ from the one
            // before on the same socket: an identical one is a retransmission and gets nothing.
            rrq(s % 2 ? 'a.bin' : 'big.bin', s % 4 === 1 ? { blksize: 600, windowsize: 4, tsize: 0, 'x-fuzz': s } : { 'x-fuzz': s });
      await peer.send(opening, ready.perSession);
      let first;
      try {
        first = await peer.next(3000);
      } catch (e) {
        failures.push(`session ${s}: no reply to its request (${(e as Error).message})`);
        if (failures.length > 20) break;
        continue;
      }
      const k = Math.min(200, share.c - done);
      await blast(rand, peer.socket, first.port, k, { names: ['a.bin'], avoidOps: [5] });
      done += k;
      sent += k;
      if (sent % 50_000 < 200) await checkpoint();
    }

    // D: the single-port listener, from one peer that keeps opening sessions between bursts.
    const dSock = await counterSocket();
    closers.push(dSock.close);
    for (let round = 0, done = 0; done < d; round++) {
      dSock.socket.send(rrq(round % 2 ? 'big.bin' : 'a.bin', round % 3 ? {} : { blksize: 1024, windowsize: 8 }), ready.single, '127.0.0.1');
      const k = Math.min(500, d - done);
      await blast(rand, dSock.socket, ready.single, k, { names: ['a.bin', 'big.bin'], avoidOps: round % 2 ? [5] : [] });
      done += k;
      sent += k;
      if (sent % 50_000 < 500) await checkpoint();
    }
    const blastMs = performance.now() - started;

    // Every session the fuzz opened ends on its own timers.
    let after = await child.stats();
    const drainBy = performance.now() + 30_000;
    while ((after.perSession.activeSessions > 0 || after.single.activeSessions > 0) && performance.now() < drainBy) {
      await new Promise((r) => setTimeout(r, 200));
      after = await child.stats();
    }
    if (after.perSession.activeSessions > 0 || after.single.activeSessions > 0) {
      failures.push(`sessions still open 30 s after the fuzz: ${after.perSession.activeSessions} per-session, ${after.single.activeSessions} single-port`);
    }

    // Normal service afterwards on both gateways: windowed, lock-step, and an upload.
    for (const [name, port, writeRoot] of [['per-session', ready.perSession, writeRoots[0]], ['single-port', ready.single, writeRoots[1]]] as const) {
      const attempt = async <T>(what: string, run: () => Promise<T>): Promise<T | undefined> => {
        try {
          return await run();
        } catch (e) {
          failures.push(`${name}: ${what} after the fuzz failed: ${(e as Error).message}`);
          return undefined;
        }
      };
      const big = await attempt('big.bin (blksize 1468, windowsize 8)', () =>
        get({ host: '127.0.0.1', port, path: 'big.bin', blksize: 1468, windowsize: 8, tsize: true, signal: AbortSignal.timeout(20_000) }),
      );
      if (big && !big.data?.equals(expected['big.bin'])) failures.push(`${name}: big.bin (blksize 1468, windowsize 8) differs after the fuzz`);
      const small = await attempt('a.bin (lock-step)', () => get({ host: '127.0.0.1', port, path: 'a.bin', signal: AbortSignal.timeout(20_000) }));
      if (small && !small.data?.equals(expected['a.bin'])) failures.push(`${name}: a.bin (lock-step) differs after the fuzz`);
      const upload = seededBytes(opts.seed + 9, 70_000);
      await attempt('an upload', () => put({ host: '127.0.0.1', port, path: `after-fuzz-${name}.bin`, data: upload, blksize: 1024, signal: AbortSignal.timeout(20_000) }));
      // Uploads land in writeRoot, not the served root: read it back through the file system.
      let stored: Buffer | undefined;
      try {
        stored = readFileSync(join(writeRoot, `after-fuzz-${name}.bin`));
      } catch {
        stored = undefined;
      }
      if (!stored?.equals(upload)) failures.push(`${name}: the upload after the fuzz was not stored byte-identical`);
    }
    if (child.escaped.length > 0) failures.push(`${child.escaped.length} error(s) escaped in the gateway process; first: ${child.escaped[0]}`);
    if (child.exited) failures.push(`gateway process ${child.exited}`);
    const c = (k: string) => (after.perSession[k] ?? 0) + (after.single[k] ?? 0) - ((startStats.perSession[k] ?? 0) + (startStats.single[k] ?? 0));
    const summary =
      `${sent} datagrams sent in ${(blastMs / 1000).toFixed(1)} s (${Math.round(sent / (blastMs / 1000))}/s); gateways counted ` +
      `${c('malformedPackets')} malformed, ${c('strangerPackets')} from strangers, ${c('sessionsStarted')} sessions started; ` +
      `${pings} liveness pings, slowest ${Math.round(maxPingMs)} ms; gateway RSS ${Math.round(startStats.rssBytes / 2 ** 20)} -> ${Math.round(after.rssBytes / 2 ** 20)} MiB; ` +
      `${child.escaped.length} escaped errors; served byte-identical afterwards: ${failures.length === 0 ? 'yes' : 'see failures'}`;
    return { summary, failures };
  } catch (e) {
    failures.push(`harness: ${(e as Error)?.stack ?? e}`);
    return { summary: `${sent} datagrams sent before the run failed`, failures };
  } finally {
    await Promise.all(closers.map((c) => c().catch(() => {})));
    proc.send({ type: 'close' });
    await new Promise<void>((r) => {
      const t = setTimeout(() => {
        proc.kill('SIGKILL');
        r();
      }, 10_000);
      proc.on('exit', () => {
        clearTimeout(t);
        r();
      });
      if (child.exited) r();
    });
  }
}
