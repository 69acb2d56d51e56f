/**
 * The accept step on loopback: a real listening socket and client socket, a scripted handler,
 * the real admission table and session bus. Each test follows one exit of openSession().
 */
import { afterEach, describe, expect, it } from 'vitest';
import dgram from 'node:dgram';
import pino from 'pino';
import { parseConfig } from '../../../gateway/src/config/load.js';
import { openSession, type AcceptContext, type Arrival } from '../../../gateway/src/accept/open-session.js';
import { SessionPlan } from '../../../gateway/src/accept/session-plan.js';
import { Admission } from '../../../gateway/src/admission/admission.js';
import { AdmissionRefusals } from '../../../gateway/src/admission/refusals.js';
import { SessionTable } from '../../../gateway/src/admission/session-table.js';
import { ErrorCode, TftpError } from '../../../gateway/src/protocol/error-codes.js';
import { decodePacket, Opcode, type RequestPacket } from '../../../gateway/src/protocol/packet.js';
import { normalizePath } from '../../../gateway/src/protocol/path.js';
import type { RequestHandler, TftpRequest } from '../../../gateway/src/handlers/request.js';
import { newServerCounters } from '../../../gateway/src/stats/counters.js';
import { SessionBus } from '../../../gateway/src/stats/session-bus.js';
import type { SessionRecord } from '../../../gateway/src/stats/session-record.js';
import { StrangerReplies } from '../../../gateway/src/transport/stranger-replies.js';
import { TidSockets } from '../../../gateway/src/transport/tid-socket.js';
import { memoryReader } from '../../../gateway/src/sources/memory.js';

const sockets: dgram.Socket[] = [];
afterEach(() => {
  for (const s of sockets.splice(0)) s.close();
});

async function udp(): Promise<dgram.Socket> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', r));
  sockets.push(s);
  return s;
}

function next(s: dgram.Socket, waitMs = 1000): Promise<{ msg: Buffer; port: number } | undefined> {
  return new Promise((resolve) => {
    const t = setTimeout(() => {
      s.off('message', on);
      resolve(undefined);
    }, waitMs);
    const on = (msg: Buffer, rinfo: dgram.RemoteInfo) => {
      clearTimeout(t);
      resolve({ msg, port: rinfo.port });
    };
    s.once('message', on);
  });
}

async function setup(handler: RequestHandler, over: Record<string, unknown> = {}) {
  const config = parseConfig({ ...over });
  const counters = newServerCounters();
  const records: SessionRecord[] = [];
  const log = pino({ level: 'silent' });
  const bus = new SessionBus(counters, log, { onSession: (r) => records.push(r) });
  const admission = new Admission(config, 0);
  const table = new SessionTable(admission, counters);
  const tids = new TidSockets(config);
  const ctx: AcceptContext = {
    gatewayId: 'test',
    singlePort: false,
    handler,
    plan: new SessionPlan(config, tids.portIsSecret),
    counters,
    bus,
    admission,
    refusals: new AdmissionRefusals({ gatewayId: 'test', refusalLogSamples: 10, refusalLogIntervalMs: 1000 }, counters, bus, log),
    table,
    tids,
    strangers: new StrangerReplies(10, counters),
    log,
    isAccepting: () => true,
  };
  const listener = await udp();
  const client = await udp();
  const arrival = (options: Record<string, string> = {}): Arrival => {
    const packet: RequestPacket = { op: Opcode.Rrq, filename: 'boot.bin', mode: 'octet', options };
    const peer = { address: '127.0.0.1', port: client.address().port, family: 'IPv4' as const };
    const local = { address: '127.0.0.1', port: listener.address().port, family: 'IPv4' as const };
    const request: TftpRequest = { id: 'r1', kind: 'read', path: normalizePath('boot.bin'), mode: 'octet', options, peer, local };
    const v = admission.admit('127.0.0.1', 0);
    if (!v.admitted) throw new Error('not admitted');
    const entry = table.add(`127.0.0.1|${peer.port}`, '127.0.0.1', Buffer.from('rrq'), v.ticket);
    return { entry, request, packet, via: { socket: listener, local } };
  };
  return { ctx, counters, records, admission, table, client, listener, arrival, tids };
}

const fileOf = (bytes: number): RequestHandler => ({
  openRead: async () => ({ reader: { size: bytes, read: async () => null, close: async () => {} }, source: 'memory' }),
});

describe('accept: open session', () => {
  it('open session: a handler refusal is answered from the listening socket with its code and recorded; the slot is released', async () => {
    const { ctx, records, admission, table, client, listener, arrival } = await setup({
      openRead: async () => {
        throw new TftpError(ErrorCode.FileNotFound, 'file not found');
      },
    });
    const reply = next(client);
    await openSession(ctx, arrival());
    const got = await reply;
    expect(got?.port).toBe(listener.address().port);
    expect(decodePacket(got!.msg)).toMatchObject({ op: Opcode.Error, code: ErrorCode.FileNotFound });
    expect(records.map((r) => r.outcome)).toEqual(['not-found']);
    expect(admission.activeSessions).toBe(0);
    expect(table.size).toBe(0);
  });

  it('open session: a request the buffer budget cannot hold is refused busy with ERROR 0, counted under limit buffers', async () => {
    const { ctx, counters, admission, client, arrival } = await setup(fileOf(1 << 20), { maxBufferBytes: 1 << 20 });
    // Another session holds the whole budget.
    const other = admission.admit('127.0.0.2', 0);
    if (!other.admitted || !admission.reserveBuffers(other.ticket, 1 << 20)) throw new Error('setup');
    const reply = next(client);
    await openSession(ctx, arrival({ blksize: '1024' }));
    const got = await reply;
    expect(decodePacket(got!.msg)).toMatchObject({ op: Opcode.Error, code: ErrorCode.NotDefined, message: 'server busy, try again later' });
    expect(counters.refusalsByLimit.buffers).toBe(1);
    expect(counters.refusedBusy).toBe(1);
    expect(admission.activeSessions).toBe(1);
  });

  it('open session: an accepted read answers from its own socket (TID), not the listener, and ends with one record', async () => {
    const { ctx, counters, records, client, listener, arrival } = await setup(fileOf(0));
    const first = next(client);
    await openSession(ctx, arrival());
    const data = await first;
    expect(data?.port).not.toBe(listener.address().port);
    expect(decodePacket(data!.msg)).toMatchObject({ op: Opcode.Data, block: 1 });
    expect(counters.sessionsStarted).toBe(1);
    client.send(Buffer.from([0, Opcode.Ack, 0, 1]), data!.port, '127.0.0.1');
    for (let i = 0; i < 100 && records.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(records.map((r) => r.outcome)).toEqual(['ok']);
    expect(counters.sessionsActive).toBe(0);
  });

  it('open session: a request superseded while its handler was opening ends silently and releases its slot', async () => {
    let release!: () => void;
    const opened = new Promise<void>((r) => (release = r));
    let closed = 0;
    const { ctx, records, admission, table, client, arrival } = await setup({
      openRead: async () => {
        await opened;
        return { reader: { size: 10, read: async () => null, close: async () => void closed++ }, source: 'memory' };
      },
    });
    const a = arrival();
    const pending = openSession(ctx, a);
    table.supersede(a.entry);
    release();
    await pending;
    expect(await next(client, 200)).toBeUndefined();
    expect(records).toEqual([]);
    expect(closed).toBe(1);
    expect(admission.activeSessions).toBe(0);
  });

  it('open session: a handler that answers at once (a hot cached file) starts the session inside the call: no promise, DATA 1 already sent', async () => {
    const { ctx, counters, table, client, listener, arrival } = await setup({
      openRead: () => ({ reader: memoryReader(Buffer.from('chain http://boot/ipxe\n')), source: 'folder' }),
    });
    const first = next(client);
    const a = arrival();
    expect(openSession(ctx, a)).toBeUndefined();
    // Started before any microtask ran: the entry has its driver and DATA 1 left the socket.
    expect(counters.sessionsStarted).toBe(1);
    expect(a.entry.driver).toBeDefined();
    expect(table.size).toBe(1);
    const data = await first;
    expect(data?.port).not.toBe(listener.address().port);
    const packet = decodePacket(data!.msg);
    expect(packet).toMatchObject({ op: Opcode.Data, block: 1 });
    expect(Buffer.from((packet as { data: Uint8Array }).data).toString()).toBe('chain http://boot/ipxe\n');
  });

  it('open session: a handler that throws at once is a refusal like a rejected one: its ERROR from the listening socket, a record, the slot released', async () => {
    const { ctx, records, admission, table, client, listener, arrival } = await setup({
      openRead: () => {
        throw new TftpError(ErrorCode.AccessViolation, 'access violation');
      },
    });
    const reply = next(client);
    expect(openSession(ctx, arrival())).toBeUndefined();
    expect(records.map((r) => r.outcome)).toEqual(['denied']);
    expect(table.size).toBe(0);
    expect(admission.activeSessions).toBe(0);
    const got = await reply;
    expect(got?.port).toBe(listener.address().port);
    expect(decodePacket(got!.msg)).toMatchObject({ op: Opcode.Error, code: ErrorCode.AccessViolation });
  });
});
