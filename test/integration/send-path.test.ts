/**
 * Both send paths end to end over loopback, with the gateway's own parts (the negotiation plan,
 * the pure read session, the session driver and its sendWindow seam, TidSockets) and real
 * clients: atftp at windowsize 64, the project's client at windowsize 64 (blksize 1468 and
 * 512, IPv4 and ::1), curl in lock-step. Every download is compared byte for byte; on the GSO
 * path the windows must really have gone out as GSO sends, on the plain path none.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type dgram from 'node:dgram';
import type { Endpoint } from '../../gateway/src/transport/endpoint.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { get } from '../../client/index.js';
import { SessionPlan } from '../../gateway/src/accept/session-plan.js';
import { parseConfig } from '../../gateway/src/config/load.js';
import { decodePacket, Opcode } from '../../gateway/src/protocol/packet.js';
import type { ByteReader } from '../../gateway/src/sources/types.js';
import { bindUdp } from '../../gateway/src/transport/bind.js';
import { sendPathSnapshot } from '../../gateway/src/transport/batch-send/send-path-stats.js';
import { SessionDriver, type SessionEnd } from '../../gateway/src/transport/session-driver.js';
import { TidSockets, watchTid } from '../../gateway/src/transport/tid-socket.js';
import { killAllClients, runClient } from '../interop/run-client.js';
import { seededBytes, testSeed } from '../helpers/seeded.js';

const SEED = testSeed(0x6e50_13);
const MiB = 1024 * 1024;
/** 4 MiB + 700: full windows, a partial last window and a short last block. */
const BODY = seededBytes(SEED, 4 * MiB + 700);

/** A reader over a buffer, in reads of the size asked for (as the folder reader sizes them). */
function bufferReader(body: Uint8Array): ByteReader {
  let at = 0;
  return {
    size: body.length,
    async read(hintBytes) {
      if (at >= body.length) return null;
      const chunk = body.subarray(at, Math.min(body.length, at + Math.max(1, hintBytes)));
      at += chunk.length;
      return chunk;
    },
    async close() {},
  };
}

/** A minimal read-only server from the gateway's parts: RRQ in, one session per request. */
async function startServer(sendPath: 'gso' | 'plain', address: string) {
  const family = address.includes(':') ? 'IPv6' : 'IPv4';
  const config = parseConfig({ hosts: [address], port: 0, root: '.', sendPath, maxWindowSize: 64 });
  const tids = new TidSockets(config);
  const plan = new SessionPlan(config, tids.portIsSecret);
  const listening = await bindUdp({ address, family, port: 0, exclusive: true, bufferBytes: 0 });
  const local = { address, port: listening.address().port, family } as const;
  const ends: SessionEnd[] = [];
  const sockets = new Set<dgram.Socket>();
  listening.on('message', (msg, rinfo) => {
    const packet = decodePacket(msg);
    if (packet.op !== Opcode.Rrq) return;
    const negotiated = plan.negotiate('read', packet.options, BODY.length);
    void Promise.resolve(tids.open(local, negotiated)).then((socket) => {
      sockets.add(socket);
      const peer: Endpoint = { address: rinfo.address, port: rinfo.port, family };
      const session = plan.session('read', negotiated, performance.now());
      const driver = new SessionDriver(session, {
        send: (d) => socket.send(d as Uint8Array | Uint8Array[], peer.port, peer.address),
        sendWindow: (ds) => tids.sendWindow(socket, ds, peer),
        reader: bufferReader(BODY),
        netascii: false,
        onEnd: (e) => ends.push(e),
        onClose: () => {
          sockets.delete(socket);
          tids.give(address, socket);
        },
      });
      watchTid(socket, peer, {
        onPeerDatagram: (m) => void driver.onDatagram(m),
        onStranger: () => {},
        onInternalError: (e) => {
          throw e;
        },
        onSocketError: () => {},
      });
      driver.start();
    });
  });
  return {
    port: local.port,
    ends,
    ready: tids.sendPathReady,
    close() {
      listening.close();
      for (const s of sockets) s.close();
      tids.close();
    },
  };
}

const work = mkdtempSync(join(tmpdir(), 'tftpfn-send-path-'));
afterAll(() => {
  killAllClients();
  rmSync(work, { recursive: true, force: true });
});

function expectSameBytes(got: Uint8Array | undefined, what: string): void {
  expect(got?.length, `${what}: length (seed ${SEED})`).toBe(BODY.length);
  expect(Buffer.compare(Buffer.from(got!), Buffer.from(BODY)), `${what}: contents differ (replay with TFTPFN_TEST_SEED=${SEED})`).toBe(0);
}

describe.each(['plain', 'gso'] as const)('send path %s', (sendPath) => {
  let server: Awaited<ReturnType<typeof startServer>>;
  let server6: Awaited<ReturnType<typeof startServer>>;
  beforeAll(async () => {
    server = await startServer(sendPath, '127.0.0.1');
    server6 = await startServer(sendPath, '::1');
    expect(await server.ready).toBe(sendPath);
    expect(await server6.ready).toBe(sendPath);
  });
  afterAll(() => {
    server.close();
    server6.close();
  });

  /** GSO segments sent during `step`: > 0 on the GSO path, exactly 0 on the plain one. */
  async function expectPath<T>(step: () => Promise<T>): Promise<T> {
    const before = sendPathSnapshot();
    const out = await step();
    const gsoSegments = sendPathSnapshot().gsoSegments - before.gsoSegments;
    if (sendPath === 'gso') expect(gsoSegments).toBeGreaterThan(0);
    else expect(gsoSegments).toBe(0);
    return out;
  }

  it(`${sendPath}: atftp with windowsize 64 at blksize 1468 gets the file intact`, async () => {
    const local = join(work, `atftp-${sendPath}`);
    const r = await expectPath(() =>
      runClient('atftp', ['--option', 'blksize 1468', '--option', 'tsize 0', '--option', 'windowsize 64', '-g', '-r', 'f', '-l', local, '127.0.0.1', String(server.port)], { timeoutMs: 30_000 }),
    );
    expect(r.code, r.stderr).toBe(0);
    expectSameBytes(readFileSync(local), 'atftp');
  });

  it(`${sendPath}: the project's client with windowsize 64 gets the file intact at blksize 1468 and 512, over IPv4 and ::1`, async () => {
    for (const [host, port] of [
      ['127.0.0.1', server.port],
      ['::1', server6.port],
    ] as const) {
      for (const blksize of [1468, 512]) {
        const r = await expectPath(() => get({ host, port, path: 'f', blksize, windowsize: 64 }));
        expectSameBytes(r.data, `client ${host} blksize ${blksize}`);
        console.log(`[send-path] ${sendPath} ${host} blksize ${blksize}: ${r.durationMs.toFixed(0)} ms, client retransmits ${r.retransmits}`);
      }
    }
  });

  it(`${sendPath}: curl in lock-step (one packet per drain) gets the file intact`, async () => {
    const local = join(work, `curl-${sendPath}`);
    const before = sendPathSnapshot();
    const r = await runClient('curl', ['-sS', '--tftp-blksize', '1468', '-o', local, `tftp://127.0.0.1:${server.port}/f`], { timeoutMs: 30_000 });
    expect(r.code, r.stderr).toBe(0);
    expectSameBytes(readFileSync(local), 'curl');
    // Nothing to batch in lock-step: every packet went through dgram.
    expect(sendPathSnapshot().gsoSegments).toBe(before.gsoSegments);
  });

  it(`${sendPath}: every session ended ok`, () => {
    expect([...server.ends, ...server6.ends].map((e) => e.outcome)).toEqual(Array(6).fill('ok'));
  });
});
