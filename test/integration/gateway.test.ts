/**
 * The real gateway on loopback, driven by the library client (whole transfers) and by raw
 * dgram sockets (byte-level checks: ports, DATA sizes, clients that stop or vanish).
 */
import { mkdirSync, readdirSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { get, put } from '../../client/index.js';
import { ErrorCode, TftpError } from '../../gateway/src/protocol/error-codes.js';
import { pino } from 'pino';
import { memoryReader, startGateway, type RequestHandler } from '../../gateway/src/index.js';
import { makeRoot, startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { RawPeer, sameBytes, seededBytes, waitUntil } from '../helpers/raw-peer.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function gateway(opts: Parameters<typeof startTestGateway>[0] = {}): Promise<TestGateway> {
  const gw = await startTestGateway(opts);
  cleanups.push(() => gw.stop());
  return gw;
}

async function peer(address = '127.0.0.1'): Promise<RawPeer> {
  const p = await RawPeer.open(address);
  cleanups.push(() => p.close());
  return p;
}

function tempDir(): string {
  const d = makeRoot();
  cleanups.push(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

/** The TftpError a rejected get/put carries; fails the test when it resolved instead. */
async function tftpErrorOf(p: Promise<unknown>): Promise<TftpError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(TftpError);
    return e as TftpError;
  }
  throw new Error('expected the transfer to fail with a TFTP ERROR');
}

const fast = { timeoutMs: 1000, retries: 2 };

describe('gateway: paths and the folder source', () => {
  it('gateway: a symlink inside the root pointing outside it is refused with ERROR 2', async () => {
    const outside = tempDir();
    writeFileSync(join(outside, 'secret.txt'), 'top secret');
    const gw = await gateway({ files: { 'ok.txt': 'fine' } });
    symlinkSync(join(outside, 'secret.txt'), join(gw.root, 'escape.txt'));
    symlinkSync(outside, join(gw.root, 'escape-dir'));

    const e1 = await tftpErrorOf(get({ host: '127.0.0.1', port: gw.port, path: 'escape.txt', ...fast }));
    expect(e1.tftpCode).toBe(ErrorCode.AccessViolation);
    const e2 = await tftpErrorOf(get({ host: '127.0.0.1', port: gw.port, path: 'escape-dir/secret.txt', ...fast }));
    expect(e2.tftpCode).toBe(ErrorCode.AccessViolation);
    const rec = await gw.waitForRecord((r) => r.file === 'escape.txt');
    expect(rec.outcome).toBe('denied');
    expect(rec.bytes).toBe(0);
  });

  it('gateway: a symlink inside the root pointing inside it is served', async () => {
    const gw = await gateway({ files: { 'images/real.bin': 'the real bytes' } });
    symlinkSync(join(gw.root, 'images/real.bin'), join(gw.root, 'alias.bin'));
    symlinkSync('real.bin', join(gw.root, 'images/relative-alias.bin'));
    const a = await get({ host: '127.0.0.1', port: gw.port, path: 'alias.bin', ...fast });
    expect(a.data!.toString()).toBe('the real bytes');
    const b = await get({ host: '127.0.0.1', port: gw.port, path: '/images/relative-alias.bin', ...fast });
    expect(b.data!.toString()).toBe('the real bytes');
  });

  it('gateway: a directory request is refused with ERROR 2', async () => {
    const gw = await gateway({ files: { 'boot/x.bin': 'x' } });
    const e = await tftpErrorOf(get({ host: '127.0.0.1', port: gw.port, path: 'boot', ...fast }));
    expect(e.tftpCode).toBe(ErrorCode.AccessViolation);
  });

  it('gateway: a missing file is ERROR 1 and a traversal attempt is ERROR 2', async () => {
    const gw = await gateway({ files: { 'a.txt': 'a' } });
    const missing = await tftpErrorOf(get({ host: '127.0.0.1', port: gw.port, path: 'nope.txt', ...fast }));
    expect(missing.tftpCode).toBe(ErrorCode.FileNotFound);
    const traversal = await tftpErrorOf(get({ host: '127.0.0.1', port: gw.port, path: '../../etc/passwd', ...fast }));
    expect(traversal.tftpCode).toBe(ErrorCode.AccessViolation);
    expect((await gw.waitForRecord((r) => r.file === '../../etc/passwd')).outcome).toBe('denied');
  });

  it('gateway: ERROR texts never contain the root path or any server path', async () => {
    const outside = tempDir();
    writeFileSync(join(outside, 'secret.txt'), 'top secret');
    const writeRoot = tempDir();
    writeFileSync(join(writeRoot, 'exists.bin'), 'already here');
    const gw = await gateway({ files: { 'dir/f.txt': 'f' }, config: { writeRoot } });
    symlinkSync(join(outside, 'secret.txt'), join(gw.root, 'escape.txt'));
    const attempts = [
      get({ host: '127.0.0.1', port: gw.port, path: 'missing.bin', ...fast }),
      get({ host: '127.0.0.1', port: gw.port, path: 'dir', ...fast }),
      get({ host: '127.0.0.1', port: gw.port, path: 'escape.txt', ...fast }),
      get({ host: '127.0.0.1', port: gw.port, path: 'dir/f.txt/below', ...fast }),
      get({ host: '127.0.0.1', port: gw.port, path: '../x', ...fast }),
      put({ host: '127.0.0.1', port: gw.port, path: 'exists.bin', data: Buffer.from('x'), ...fast }),
      put({ host: '127.0.0.1', port: gw.port, path: 'no/such/dir/up.bin', data: Buffer.from('x'), ...fast }),
    ];
    const errors = await Promise.all(attempts.map(tftpErrorOf));
    const forbidden = [gw.root, realpathSync(gw.root), outside, writeRoot, realpathSync(writeRoot), '/tmp', 'tftpfn-test-'];
    for (const e of errors) {
      for (const f of forbidden) expect(e.message, `ERROR ${e.tftpCode} text`).not.toContain(f);
      expect(e.message).not.toMatch(/ENOENT|EACCES|ENOTDIR|at .*\.js/);
    }
    // And none of the records' wire messages leak either.
    await waitUntil(() => gw.records.length >= attempts.length, 3000, 'all records');
    for (const r of gw.records) for (const f of forbidden) expect(r.errorMessage ?? '').not.toContain(f);
  });
});

describe('gateway: admission', () => {
  it('gateway: a retransmitted RRQ from the same peer port does not start a second session', async () => {
    const gw = await gateway({ files: { 'one.bin': seededBytes(100) } });
    const p = await peer();
    p.rrq(gw.port, 'one.bin');
    p.rrq(gw.port, 'one.bin');
    await waitUntil(() => gw.gateway.counters.duplicateRequests === 1, 3000, 'the duplicate to be counted');
    const d1 = await p.expect(3);
    expect(d1.packet.block).toBe(1);
    expect(sameBytes(Buffer.from(d1.packet.data), seededBytes(100))).toBe('same');
    p.ack(d1.from.port, 1);
    const rec = await gw.waitForRecord((r) => r.file === 'one.bin');
    expect(rec.outcome).toBe('ok');
    expect(gw.gateway.counters.sessionsStarted).toBe(1);
    expect(gw.records.filter((r) => r.file === 'one.bin')).toHaveLength(1);
    // Nothing else came: no DATA 1 from a second session's port.
    await p.silentFor(200);
  });

  it('gateway: maxSessionsPerClient refuses an extra session from the same address with ERROR 0', async () => {
    const gw = await gateway({ files: { 'big.bin': seededBytes(10_000) }, config: { maxSessionsPerClient: 2, timeoutMs: 5000 } });
    const held = [await peer(), await peer()];
    const tids: number[] = [];
    for (const h of held) {
      h.rrq(gw.port, 'big.bin');
      tids.push((await h.expect(3)).from.port); // DATA 1, deliberately not ACKed: the session stays open.
    }
    expect(gw.gateway.activeSessions).toBe(2);
    const extra = await peer();
    extra.rrq(gw.port, 'big.bin');
    const refused = await extra.expect(5);
    expect(refused.packet.code).toBe(ErrorCode.NotDefined);
    expect(refused.packet.message).toMatch(/too many sessions/);
    expect(refused.from.port).toBe(gw.port);
    expect(gw.gateway.counters.refusedBusy).toBe(1);

    // Once a held session ends, the client may start another.
    held[1].error(tids[1], ErrorCode.NotDefined, 'bye');
    expect((await gw.waitForRecord((r) => r.peer.port === held[1].port)).outcome).toBe('client-abort');
    await waitUntil(() => gw.gateway.activeSessions === 1, 2000, 'the session to be released');
    const again = await peer();
    again.rrq(gw.port, 'big.bin');
    expect((await again.expect(3)).packet.block).toBe(1);
  });

  it('gateway: maxSessions refuses a session from any client once full with ERROR 0', async () => {
    const gw = await gateway({ files: { 'big.bin': seededBytes(10_000) }, config: { maxSessions: 1, timeoutMs: 5000 } });
    const holder = await peer();
    holder.rrq(gw.port, 'big.bin');
    await holder.expect(3);
    const other = await peer();
    other.rrq(gw.port, 'big.bin');
    const refused = await other.expect(5);
    expect(refused.packet.code).toBe(ErrorCode.NotDefined);
    expect(refused.packet.message).toMatch(/busy/);
    expect(gw.gateway.counters.refusedBusy).toBe(1);
    expect(gw.gateway.counters.sessionsStarted).toBe(1);
  });

  it('gateway: a denied client is dropped without a reply and counted', async () => {
    const gw = await gateway({ files: { 'f.bin': 'x' }, config: { deny: ['127.0.0.0/8'] } });
    const p = await peer();
    p.rrq(gw.port, 'f.bin');
    await waitUntil(() => gw.gateway.counters.deniedClients === 1, 3000, 'deniedClients to count the request');
    await p.silentFor(300);
    // Issue 9 §2: a refusal leaves a (sampled) record with outcome client-denied, and nothing on the wire.
    expect(gw.records).toHaveLength(1);
    expect(gw.records[0]).toMatchObject({ outcome: 'client-denied', file: 'f.bin', packetsSent: 0, errorCode: undefined });
    expect(gw.gateway.counters.sessionsStarted).toBe(0);
  });

  it('gateway: a client outside a non-empty allow list is dropped without a reply and counted', async () => {
    const gw = await gateway({ files: { 'f.bin': 'x' }, config: { allow: ['10.0.0.0/8', 'fd00::/8'] } });
    const p = await peer();
    p.wrq(gw.port, 'f.bin');
    p.rrq(gw.port, 'f.bin');
    await waitUntil(() => gw.gateway.counters.deniedClients === 2, 3000, 'deniedClients to count both requests');
    await p.silentFor(300);
  });

  it('gateway: deny wins over an allow list that includes the client', async () => {
    const gw = await gateway({ files: { 'f.bin': 'x' }, config: { allow: ['127.0.0.0/8'], deny: ['127.0.0.1'] } });
    const p = await peer();
    p.rrq(gw.port, 'f.bin');
    await waitUntil(() => gw.gateway.counters.deniedClients === 1, 3000, 'deniedClients');
    await p.silentFor(200);
  });

  it('gateway: a client inside the allow list is served', async () => {
    const gw = await gateway({ files: { 'f.bin': 'allowed' }, config: { allow: ['127.0.0.1/32'] } });
    const r = await get({ host: '127.0.0.1', port: gw.port, path: 'f.bin', ...fast });
    expect(r.data!.toString()).toBe('allowed');
    expect(gw.gateway.counters.deniedClients).toBe(0);
  });

  it('gateway: DATA from a stranger to a session port gets ERROR 5 and the transfer carries on', async () => {
    const body = seededBytes(1500);
    const gw = await gateway({ files: { 'f.bin': body }, config: { timeoutMs: 5000 } });
    const p = await peer();
    p.rrq(gw.port, 'f.bin');
    const d1 = await p.expect(3);
    const stranger = await peer();
    stranger.ack(d1.from.port, 1);
    const e = await stranger.expect(5);
    expect(e.packet.code).toBe(ErrorCode.UnknownTransferId);
    const got = [Buffer.from(d1.packet.data)];
    p.ack(d1.from.port, 1);
    for (let block = 2; block <= 3; block++) {
      const d = await p.expect(3);
      expect(d.packet.block).toBe(block);
      got.push(Buffer.from(d.packet.data));
      p.ack(d.from.port, block);
    }
    expect(sameBytes(Buffer.concat(got), body)).toBe('same');
    expect((await gw.waitForRecord((r) => r.file === 'f.bin')).outcome).toBe('ok');
    expect(gw.gateway.counters.strangerPackets).toBe(1);
  });
});

describe('gateway: option negotiation', () => {
  it('gateway: tsize in the OACK equals the file size', async () => {
    const body = seededBytes(12_345);
    const gw = await gateway({ files: { 'k.bin': body } });
    const r = await get({ host: '127.0.0.1', port: gw.port, path: 'k.bin', tsize: true, ...fast });
    expect(r.oack?.tsize).toBe('12345');
    expect(sameBytes(r.data, body)).toBe('same');
    expect((await gw.waitForRecord((x) => x.file === 'k.bin')).tsize).toBe(12345);
  });

  it('gateway: with tsize on the refuse list the OACK lacks tsize but keeps blksize', async () => {
    const body = seededBytes(3000);
    const gw = await gateway({ files: { 'k.bin': body }, config: { refuse: ['tsize'] } });
    const r = await get({ host: '127.0.0.1', port: gw.port, path: 'k.bin', tsize: true, blksize: 1024, ...fast });
    expect(r.oack).not.toBeNull();
    expect(r.oack).not.toHaveProperty('tsize');
    expect(r.oack?.blksize).toBe('1024');
    expect(sameBytes(r.data, body)).toBe('same');
  });

  it('gateway: with only a refused option requested no OACK is sent and DATA 1 comes at once', async () => {
    const gw = await gateway({ files: { 'k.bin': 'hello' }, config: { refuse: ['tsize'] } });
    const p = await peer();
    p.rrq(gw.port, 'k.bin', { tsize: '0' });
    const d1 = await p.expect(3);
    expect(Buffer.from(d1.packet.data).toString()).toBe('hello');
    p.ack(d1.from.port, 1);
  });

  it('gateway: a blksize above maxBlockSize is lowered in the OACK and the DATA sizes match it', async () => {
    const body = seededBytes(2500);
    const gw = await gateway({ files: { 'b.bin': body }, config: { maxBlockSize: 1000 } });
    const p = await peer();
    p.rrq(gw.port, 'b.bin', { blksize: '1400' });
    const oack = await p.expect(6);
    expect(oack.packet.options).toEqual({ blksize: '1000' });
    const tid = oack.from.port;
    p.ack(tid, 0);
    const sizes: number[] = [];
    const got: Buffer[] = [];
    for (let block = 1; block <= 3; block++) {
      const d = await p.expect(3);
      expect(d.packet.block).toBe(block);
      expect(d.from.port).toBe(tid);
      sizes.push(d.packet.data.length);
      got.push(Buffer.from(d.packet.data));
      p.ack(tid, block);
    }
    expect(sizes).toEqual([1000, 1000, 500]);
    expect(sameBytes(Buffer.concat(got), body)).toBe('same');
    const rec = await gw.waitForRecord((r) => r.file === 'b.bin');
    expect(rec.blockSize).toBe(1000);
    expect(rec.outcome).toBe('ok');
  });

  it('gateway: the library client accepts a lowered blksize and gets the whole file', async () => {
    const body = seededBytes(50_000);
    const gw = await gateway({ files: { 'b.bin': body }, config: { maxBlockSize: 700 } });
    const r = await get({ host: '127.0.0.1', port: gw.port, path: 'b.bin', blksize: 1468, ...fast });
    expect(r.oack?.blksize).toBe('700');
    expect(r.blockSize).toBe(700);
    expect(sameBytes(r.data, body)).toBe('same');
  });

  it('gateway: ERROR 8 after the OACK is recorded as an option probe and the retry succeeds', async () => {
    const body = seededBytes(900);
    const gw = await gateway({ files: { 'uefi.efi': body } });
    const p = await peer();
    // AMI/Aptio UEFI: tsize=0 blksize=1468, then ERROR 8, then retry without tsize.
    p.rrq(gw.port, 'uefi.efi', { tsize: '0', blksize: '1468' });
    const oack = await p.expect(6);
    expect(oack.packet.options).toEqual({ tsize: '900', blksize: '1468' });
    p.error(oack.from.port, ErrorCode.OptionRefused, 'tsize');
    const probe = await gw.waitForRecord((r) => r.file === 'uefi.efi');
    expect(probe.outcome).toBe('option-probe');
    expect(probe.errorCode).toBe(ErrorCode.OptionRefused);

    const r = await get({ host: '127.0.0.1', port: gw.port, path: 'uefi.efi', blksize: 1468, ...fast });
    expect(sameBytes(r.data, body)).toBe('same');
    await waitUntil(() => gw.records.length === 2, 3000, 'the second record');
    expect(gw.records[1].outcome).toBe('ok');
    expect(gw.gateway.counters.sessionsByOutcome['option-probe']).toBe(1);
  });

  it('gateway: a client ERROR mid-transfer ends the session as client-abort', async () => {
    const gw = await gateway({ files: { 'm.bin': seededBytes(5000) } });
    const p = await peer();
    p.rrq(gw.port, 'm.bin');
    const d1 = await p.expect(3);
    p.ack(d1.from.port, 1);
    const d2 = await p.expect(3);
    expect(d2.packet.block).toBe(2);
    p.error(d2.from.port, ErrorCode.NotDefined, 'user cancelled');
    const rec = await gw.waitForRecord((r) => r.file === 'm.bin');
    expect(rec.outcome).toBe('client-abort');
    expect(rec.bytes).toBeGreaterThanOrEqual(512);
    await waitUntil(() => gw.gateway.activeSessions === 0, 2000, 'the session to close');
    // The server does not answer an ERROR (no error loops).
    await p.silentFor(200);
  });

  it('gateway: windowsize is negotiated and a windowed transfer through the library client matches', async () => {
    const body = seededBytes(300_000, 7);
    const gw = await gateway({ files: { 'w.bin': body } });
    const r = await get({ host: '127.0.0.1', port: gw.port, path: 'w.bin', blksize: 1428, windowsize: 8, tsize: true, ...fast });
    expect(r.oack).toEqual({ blksize: '1428', windowsize: '8', tsize: '300000' });
    expect(r.windowSize).toBe(8);
    expect(sameBytes(r.data, body)).toBe('same');
    const rec = await gw.waitForRecord((x) => x.file === 'w.bin');
    expect(rec.windowSize).toBe(8);
    expect(rec.bytes).toBe(300_000);
    expect(rec.blocks).toBe(Math.ceil(300_000 / 1428) + (300_000 % 1428 === 0 ? 1 : 0));
  });

  it('gateway: a windowsize above maxWindowSize is lowered in the OACK', async () => {
    const body = seededBytes(40_000, 9);
    const gw = await gateway({ files: { 'w.bin': body }, config: { maxWindowSize: 4 } });
    const r = await get({ host: '127.0.0.1', port: gw.port, path: 'w.bin', windowsize: 32, ...fast });
    expect(r.oack?.windowsize).toBe('4');
    expect(sameBytes(r.data, body)).toBe('same');
  });

  it('gateway: a windowed upload through the library client is stored byte-identical', async () => {
    const writeRoot = tempDir();
    const body = seededBytes(123_457, 11);
    const gw = await gateway({ config: { writeRoot } });
    const r = await put({ host: '127.0.0.1', port: gw.port, path: 'win.bin', data: body, blksize: 1024, windowsize: 16, ...fast });
    expect(r.oack?.windowsize).toBe('16');
    await gw.waitForRecord((x) => x.kind === 'write');
    expect(sameBytes(readFileSync(join(writeRoot, 'win.bin')), body)).toBe('same');
  });

  it('gateway: a netascii read turns LF into CR LF and CR into CR NUL on the wire', async () => {
    const gw = await gateway({ files: { 'n.txt': 'line1\nline2\r\nend\rx\n' } });
    const p = await peer();
    p.rrq(gw.port, 'n.txt', {}, 'netascii');
    const d1 = await p.expect(3);
    p.ack(d1.from.port, 1);
    expect(Buffer.from(d1.packet.data)).toEqual(Buffer.from('line1\r\nline2\r\0\r\nend\r\0x\r\n', 'latin1'));
    const rec = await gw.waitForRecord((r) => r.file === 'n.txt');
    expect(rec.outcome).toBe('ok');
    expect(rec.mode).toBe('netascii');
  });

  it('gateway: a netascii read crossing block boundaries is restored exactly by the library client', async () => {
    const text = Array.from({ length: 400 }, (_, i) => `row ${i}\n`).join('');
    const gw = await gateway({ files: { 'n.txt': text } });
    const r = await get({ host: '127.0.0.1', port: gw.port, path: 'n.txt', mode: 'netascii', ...fast });
    expect(r.data!.toString()).toBe(text);
    expect(r.bytes).toBe(Buffer.byteLength(text) + 400);
  });

  it('gateway: tsize is not offered for a netascii read, whose size on the wire differs', async () => {
    const gw = await gateway({ files: { 'n.txt': 'a\nb\n' } });
    const p = await peer();
    p.rrq(gw.port, 'n.txt', { tsize: '0' }, 'netascii');
    const d1 = await p.expect(3);
    expect(Buffer.from(d1.packet.data).toString('latin1')).toBe('a\r\nb\r\n');
    p.ack(d1.from.port, 1);
  });
});

describe('gateway: uploads', () => {
  it('gateway: a WRQ while writes are disabled is refused with ERROR 2', async () => {
    const gw = await gateway();
    const e = await tftpErrorOf(put({ host: '127.0.0.1', port: gw.port, path: 'up.bin', data: Buffer.from('x'), ...fast }));
    expect(e.tftpCode).toBe(ErrorCode.AccessViolation);
    expect((await gw.waitForRecord((r) => r.kind === 'write')).outcome).toBe('denied');
  });

  it('gateway: an upload with writeRoot set is stored byte-identical', async () => {
    const writeRoot = tempDir();
    const body = seededBytes(70_001, 3);
    const gw = await gateway({ config: { writeRoot } });
    await put({ host: '127.0.0.1', port: gw.port, path: 'up.bin', data: body, blksize: 1468, tsize: true, ...fast });
    const rec = await gw.waitForRecord((r) => r.kind === 'write');
    expect(rec.outcome).toBe('ok');
    expect(rec.bytes).toBe(body.length);
    expect(sameBytes(readFileSync(join(writeRoot, 'up.bin')), body)).toBe('same');
    expect(readdirSync(writeRoot)).toEqual(['up.bin']);
  });

  it('gateway: an upload of exactly k × blksize bytes ends with an empty block and is stored whole', async () => {
    const writeRoot = tempDir();
    const body = seededBytes(512 * 3, 5);
    const gw = await gateway({ config: { writeRoot } });
    await put({ host: '127.0.0.1', port: gw.port, path: 'exact.bin', data: body, ...fast });
    await gw.waitForRecord((r) => r.kind === 'write' && r.outcome === 'ok');
    expect(sameBytes(readFileSync(join(writeRoot, 'exact.bin')), body)).toBe('same');
  });

  it('gateway: an upload the client aborts with ERROR leaves no file and no temp file', async () => {
    const writeRoot = tempDir();
    const gw = await gateway({ config: { writeRoot } });
    const p = await peer();
    p.wrq(gw.port, 'aborted.bin');
    const ack0 = await p.expect(4);
    expect(ack0.packet.block).toBe(0);
    const tid = ack0.from.port;
    for (let block = 1; block <= 2; block++) {
      p.data(tid, block, seededBytes(512, block));
      expect((await p.expect(4)).packet.block).toBe(block);
    }
    // The temp file exists while the upload runs...
    await waitUntil(() => readdirSync(writeRoot).some((n) => n.endsWith('.part')), 2000, 'the temp file');
    p.error(tid, ErrorCode.NotDefined, 'cancelled');
    const rec = await gw.waitForRecord((r) => r.kind === 'write');
    expect(rec.outcome).toBe('client-abort');
    // ...and is removed once the session is gone.
    await waitUntil(() => readdirSync(writeRoot).length === 0, 3000, 'writeRoot to be empty');
    expect(readdirSync(writeRoot)).toEqual([]);
  });

  it('gateway: an upload whose client stops sending times out and leaves no file and no temp file', async () => {
    const writeRoot = tempDir();
    const gw = await gateway({ config: { writeRoot, timeoutMs: 40, retries: 2, backoffFactor: 1, maxTimeoutMs: 40 } });
    const p = await peer();
    p.wrq(gw.port, 'stalled.bin');
    const ack0 = await p.expect(4);
    p.data(ack0.from.port, 1, seededBytes(512, 1));
    expect((await p.expect(4)).packet.block).toBe(1);
    // The client now vanishes: the server re-ACKs a few times, then gives up.
    const rec = await gw.waitForRecord((r) => r.kind === 'write', 5000);
    expect(rec.outcome).toBe('timeout');
    expect(rec.retransmits).toBe(2);
    await waitUntil(() => readdirSync(writeRoot).length === 0, 3000, 'writeRoot to be empty');
  });

  it('gateway: a netascii upload is stored with local line endings', async () => {
    const writeRoot = tempDir();
    const text = 'first\nsecond\r\nthird\rend\n'.repeat(100);
    const gw = await gateway({ config: { writeRoot } });
    await put({ host: '127.0.0.1', port: gw.port, path: 'n.txt', data: Buffer.from(text, 'latin1'), mode: 'netascii', ...fast });
    await gw.waitForRecord((r) => r.kind === 'write' && r.outcome === 'ok');
    expect(readFileSync(join(writeRoot, 'n.txt'), 'latin1')).toBe(text);
  });

  it('gateway: an upload beyond maxUploadBytes is refused with ERROR 3 and leaves nothing behind', async () => {
    const writeRoot = tempDir();
    const gw = await gateway({ config: { writeRoot, maxUploadBytes: 2000 } });
    const e = await tftpErrorOf(put({ host: '127.0.0.1', port: gw.port, path: 'big.bin', data: seededBytes(5000), ...fast }));
    expect(e.tftpCode).toBe(ErrorCode.DiskFull);
    expect((await gw.waitForRecord((r) => r.kind === 'write')).outcome).toBe('disk-full');
    await waitUntil(() => readdirSync(writeRoot).length === 0, 3000, 'writeRoot to be empty');
    // Exactly the limit is fine.
    await put({ host: '127.0.0.1', port: gw.port, path: 'fits.bin', data: seededBytes(2000), ...fast });
    expect(readFileSync(join(writeRoot, 'fits.bin')).length).toBe(2000);
  });

  it('gateway: an upload onto an existing file without allowOverwrite is refused with ERROR 6', async () => {
    const writeRoot = tempDir();
    writeFileSync(join(writeRoot, 'taken.bin'), 'original');
    const gw = await gateway({ config: { writeRoot } });
    const e = await tftpErrorOf(put({ host: '127.0.0.1', port: gw.port, path: 'taken.bin', data: Buffer.from('new'), ...fast }));
    expect(e.tftpCode).toBe(ErrorCode.FileExists);
    expect(readFileSync(join(writeRoot, 'taken.bin'), 'utf8')).toBe('original');
    expect(readdirSync(writeRoot)).toEqual(['taken.bin']);
  });

  it('gateway: an upload onto an existing file with allowOverwrite replaces it', async () => {
    const writeRoot = tempDir();
    writeFileSync(join(writeRoot, 'taken.bin'), 'original');
    const gw = await gateway({ config: { writeRoot, allowOverwrite: true } });
    await put({ host: '127.0.0.1', port: gw.port, path: 'taken.bin', data: Buffer.from('replacement'), ...fast });
    await gw.waitForRecord((r) => r.kind === 'write' && r.outcome === 'ok');
    expect(readFileSync(join(writeRoot, 'taken.bin'), 'utf8')).toBe('replacement');
  });

  it('gateway: an upload into a subfolder of writeRoot that escapes through a symlink is refused with ERROR 2', async () => {
    const writeRoot = tempDir();
    const outside = tempDir();
    symlinkSync(outside, join(writeRoot, 'out'));
    mkdirSync(join(writeRoot, 'in'));
    const gw = await gateway({ config: { writeRoot } });
    const e = await tftpErrorOf(put({ host: '127.0.0.1', port: gw.port, path: 'out/x.bin', data: Buffer.from('x'), ...fast }));
    expect(e.tftpCode).toBe(ErrorCode.AccessViolation);
    expect(readdirSync(outside)).toEqual([]);
    await put({ host: '127.0.0.1', port: gw.port, path: 'in/x.bin', data: Buffer.from('x'), ...fast });
    expect(readFileSync(join(writeRoot, 'in/x.bin'), 'utf8')).toBe('x');
  });
});

describe('gateway: request handlers', () => {
  it('gateway: a handler that throws a plain Error yields ERROR 0 with a generic text, never the error text', async () => {
    const handler: RequestHandler = {
      async openRead() {
        throw new Error('connect ECONNREFUSED /var/lib/secret/db.sock password=hunter2');
      },
    };
    const gw = await gateway({ handler });
    const e = await tftpErrorOf(get({ host: '127.0.0.1', port: gw.port, path: 'any.bin', ...fast }));
    expect(e.tftpCode).toBe(ErrorCode.NotDefined);
    expect(e.message).not.toMatch(/secret|hunter2|ECONNREFUSED/);
    const rec = await gw.waitForRecord((r) => r.file === 'any.bin');
    expect(rec.outcome).toBe('upstream-error');
    expect(rec.errorMessage ?? '').not.toMatch(/secret|hunter2/);
  });

  it('gateway: a handler that throws a TftpError puts its code and text on the wire', async () => {
    const handler: RequestHandler = {
      async openRead() {
        throw new TftpError(ErrorCode.FileNotFound, 'no config for this MAC');
      },
    };
    const gw = await gateway({ handler });
    const e = await tftpErrorOf(get({ host: '127.0.0.1', port: gw.port, path: 'pxelinux.cfg/01-aa-bb-cc-dd-ee-ff', ...fast }));
    expect(e.tftpCode).toBe(ErrorCode.FileNotFound);
    expect(e.message).toBe('no config for this MAC');
    expect((await gw.waitForRecord(() => true)).outcome).toBe('not-found');
  });

  it('gateway: the handler sees the normalised path, the raw name, the mode, the options and the peer', async () => {
    const seen: Parameters<RequestHandler['openRead']>[0][] = [];
    const handler: RequestHandler = {
      async openRead(request) {
        seen.push(request);
        return { reader: memoryReader(Buffer.from('generated for ' + request.path.normalized)), source: 'memory' };
      },
    };
    const gw = await gateway({ handler });
    const r = await get({ host: '127.0.0.1', port: gw.port, path: '//boot/./ipxe.efi', blksize: 1024, ...fast });
    expect(r.data!.toString()).toBe('generated for boot/ipxe.efi');
    expect(seen).toHaveLength(1);
    expect(seen[0].path).toEqual({ raw: '//boot/./ipxe.efi', normalized: 'boot/ipxe.efi' });
    expect(seen[0].mode).toBe('octet');
    expect(seen[0].options).toMatchObject({ blksize: '1024' });
    expect(seen[0].peer.address).toBe('127.0.0.1');
    expect(seen[0].local).toEqual({ address: '127.0.0.1', port: gw.port, family: 'IPv4' });
    expect((await gw.waitForRecord(() => true)).source).toBe('memory');
  });

  it('gateway: a request whose source is still opening when stop() begins gets no session', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let opened!: () => void;
    const handlerCalled = new Promise<void>((resolve) => (opened = resolve));
    let closed = 0;
    const handler: RequestHandler = {
      async openRead() {
        opened();
        await gate;
        const reader = memoryReader(Buffer.from('late'));
        return { reader: { ...reader, size: reader.size, close: async () => void closed++ }, source: 'memory' };
      },
    };
    const gw = await gateway({ handler });
    const p = await peer();
    p.rrq(gw.port, 'slow-source.bin');
    await handlerCalled;
    const stopping = gw.close(5000);
    release();
    await stopping;
    await p.silentFor(300);
    expect(gw.gateway.counters.sessionsStarted).toBe(0);
    expect(gw.gateway.activeSessions).toBe(0);
    expect(closed).toBe(1);
  });
});

describe('gateway: sockets, timeouts and shutdown', () => {
  it('gateway: with portRange set every session socket port lies in the range', async () => {
    // Below the ephemeral range (32768+), where no other socket of the test run can land.
    const low = 21_310;
    const high = 21_319;
    const gw = await gateway({ files: { 'p.bin': 'ports' }, config: { portRange: `${low}-${high}` } });
    for (let i = 0; i < 3; i++) {
      const p = await peer();
      p.rrq(gw.port, 'p.bin');
      const d1 = await p.expect(3);
      expect(d1.from.port).toBeGreaterThanOrEqual(low);
      expect(d1.from.port).toBeLessThanOrEqual(high);
      p.ack(d1.from.port, 1);
    }
    await waitUntil(() => gw.records.length === 3, 3000, 'three records');
    expect(gw.records.every((r) => r.outcome === 'ok')).toBe(true);
  });

  it('gateway: in single-port mode DATA comes from the listening port', async () => {
    const body = seededBytes(1200);
    const gw = await gateway({ files: { 's.bin': body }, config: { singlePort: true } });
    const p = await peer();
    p.rrq(gw.port, 's.bin');
    const got: Buffer[] = [];
    for (let block = 1; block <= 3; block++) {
      const d = await p.expect(3);
      expect(d.from.port).toBe(gw.port);
      got.push(Buffer.from(d.packet.data));
      p.ack(gw.port, block);
    }
    expect(sameBytes(Buffer.concat(got), body)).toBe('same');
    expect((await gw.waitForRecord((r) => r.file === 's.bin')).outcome).toBe('ok');
    const r = await get({ host: '127.0.0.1', port: gw.port, path: 's.bin', windowsize: 4, ...fast });
    expect(sameBytes(r.data, body)).toBe('same');
  });

  it('gateway: in single-port mode stop(grace) lets a transfer in flight finish and answers no new request', async () => {
    const body = seededBytes(512 * 3 + 1);
    const gw = await gateway({ files: { 's.bin': body }, config: { singlePort: true, timeoutMs: 5000 } });
    const p = await peer();
    p.rrq(gw.port, 's.bin');
    const d1 = await p.expect(3);
    const stopping = gw.close(10_000);
    const late = await peer();
    late.rrq(gw.port, 's.bin');
    await late.silentFor(300);
    const got = [Buffer.from(d1.packet.data)];
    p.ack(gw.port, 1);
    for (let block = 2; block <= 4; block++) {
      const d = await p.expect(3);
      expect(d.from.port).toBe(gw.port);
      got.push(Buffer.from(d.packet.data));
      p.ack(gw.port, block);
    }
    expect(sameBytes(Buffer.concat(got), body)).toBe('same');
    await stopping;
    expect(gw.records.map((r) => r.outcome)).toEqual(['ok']);
  });

  it('gateway: a file of more than 65535 blocks is served whole with block numbers wrapping to 0', async () => {
    // 70,000 blocks of 8 bytes: the block counter wraps once (65535 -> 0).
    const body = seededBytes(8 * 70_000 + 3, 17);
    const gw = await gateway({ files: { 'wrap.bin': body } });
    const r = await get({ host: '127.0.0.1', port: gw.port, path: 'wrap.bin', blksize: 8, windowsize: 64, ...fast });
    expect(sameBytes(r.data, body)).toBe('same');
    const rec = await gw.waitForRecord((x) => x.file === 'wrap.bin');
    expect(rec.outcome).toBe('ok');
    expect(rec.blocks).toBe(70_001);
  }, 60_000);

  it('gateway: a read session whose client vanishes ends as timeout', async () => {
    const gw = await gateway({
      files: { 't.bin': seededBytes(4000) },
      config: { timeoutMs: 40, retries: 3, backoffFactor: 1, maxTimeoutMs: 40 },
    });
    const p = await peer();
    p.rrq(gw.port, 't.bin');
    const d1 = await p.expect(3);
    p.ack(d1.from.port, 1);
    await p.expect(3);
    p.close(); // the client vanishes after DATA 2
    const rec = await gw.waitForRecord((r) => r.file === 't.bin', 5000);
    expect(rec.outcome).toBe('timeout');
    expect(rec.retransmits).toBe(3);
    await waitUntil(() => gw.gateway.activeSessions === 0, 2000, 'the session to be released');
  });

  it('gateway: a request that is never acknowledged gives up after firstPacketRetries', async () => {
    const gw = await gateway({
      files: { 't.bin': seededBytes(4000) },
      config: { timeoutMs: 40, retries: 5, firstPacketRetries: 1, backoffFactor: 1, maxTimeoutMs: 40 },
    });
    const p = await peer();
    p.rrq(gw.port, 't.bin');
    const first = await p.expect(3);
    const again = await p.expect(3, 2000);
    expect(again.packet.block).toBe(1);
    expect(again.from.port).toBe(first.from.port);
    const rec = await gw.waitForRecord((r) => r.file === 't.bin', 5000);
    expect(rec.outcome).toBe('timeout');
    expect(rec.retransmits).toBe(1);
    // Bounded amplification: nothing more is sent for an unacknowledged request.
    await p.silentFor(200);
  });

  it('gateway: stop(grace) lets a transfer in flight finish and answers no new request', async () => {
    const body = seededBytes(512 * 4 + 10);
    const gw = await gateway({ files: { 'g.bin': body }, config: { timeoutMs: 5000 } });
    const p = await peer();
    p.rrq(gw.port, 'g.bin');
    const d1 = await p.expect(3);
    const tid = d1.from.port;
    let stopped = false;
    const stopping = gw.close(10_000).then(() => {
      stopped = true;
    });

    const late = await peer();
    late.rrq(gw.port, 'g.bin');
    await late.silentFor(300);

    const got = [Buffer.from(d1.packet.data)];
    p.ack(tid, 1);
    for (let block = 2; block <= 5; block++) {
      const d = await p.expect(3);
      expect(d.packet.block).toBe(block);
      got.push(Buffer.from(d.packet.data));
      expect(stopped).toBe(false);
      p.ack(tid, block);
    }
    expect(sameBytes(Buffer.concat(got), body)).toBe('same');
    await stopping;
    expect(stopped).toBe(true);
    expect(gw.records.map((r) => r.outcome)).toEqual(['ok']);
  });

  it('gateway: stop(grace) aborts a transfer still running when the grace period ends', async () => {
    const gw = await gateway({ files: { 'g.bin': seededBytes(5000) }, config: { timeoutMs: 5000 } });
    const p = await peer();
    p.rrq(gw.port, 'g.bin');
    await p.expect(3);
    await gw.close(100);
    const e = await p.expect(5);
    expect(e.packet.code).toBe(ErrorCode.NotDefined);
    expect(e.packet.message).toMatch(/shutting down/);
    expect((await gw.waitForRecord((r) => r.file === 'g.bin')).outcome).toBe('shutdown');
  });

  it('gateway: an IPv6 ::1 listener serves reads and records an IPv6 peer', async () => {
    const body = seededBytes(5000, 13);
    const gw = await gateway({ files: { 'v6.bin': body }, config: { hosts: ['::1'] } });
    expect(gw.addresses).toEqual([{ address: '::1', port: gw.port, family: 'IPv6' }]);
    const r = await get({ host: '::1', port: gw.port, path: 'v6.bin', blksize: 1024, tsize: true, ...fast });
    expect(sameBytes(r.data, body)).toBe('same');
    const rec = await gw.waitForRecord((x) => x.file === 'v6.bin');
    expect(rec.peer.family).toBe('IPv6');
    expect(rec.peer.address).toBe('::1');
    expect(rec.local.address).toBe('::1');
    const p = await peer('::1');
    p.rrq(gw.port, 'v6.bin');
    const d1 = await p.expect(3);
    expect(d1.from.address).toBe('::1');
    p.error(d1.from.port, 0, 'done');
  });

  it('gateway: each reply comes from the local address the request was sent to', async () => {
    // Two loopback addresses on one gateway: NIC firmware drops DATA from any other address.
    const gw = await gateway({ files: { 'a.bin': 'addr' }, config: { hosts: ['127.0.0.1', '127.0.0.2'] } });
    for (const address of ['127.0.0.2', '127.0.0.1']) {
      const p = await peer(address);
      p.rrq(gw.port, 'a.bin');
      const d1 = await p.expect(3);
      expect(d1.from.address).toBe(address);
      p.ack(d1.from.port, 1);
      const rec = await gw.waitForRecord((r) => r.peer.port === p.port);
      expect(rec.local.address).toBe(address);
    }
  });

  it('gateway: IPv4 and IPv6 listeners on one gateway share the port', async () => {
    const gw = await gateway({ files: { 'both.bin': 'dual' }, config: { hosts: ['127.0.0.1', '::1'] } });
    expect(gw.addresses.map((a) => a.port)).toEqual([gw.port, gw.port]);
    expect((await get({ host: '127.0.0.1', port: gw.port, path: 'both.bin', ...fast })).data!.toString()).toBe('dual');
    expect((await get({ host: '::1', port: gw.port, path: 'both.bin', ...fast })).data!.toString()).toBe('dual');
  });

  it('gateway: at log level warn with no metrics, stats sink or hook, finished sessions are counted by outcome without records; a failure still logs its line', async () => {
    const root = tempDir();
    writeFileSync(join(root, 'grub.cfg'), 'set timeout=1\n');
    const lines: Record<string, unknown>[] = [];
    const logger = pino({ level: 'warn' }, { write: (l: string) => void lines.push(JSON.parse(l)) });
    const gw = await startGateway({ config: { hosts: ['127.0.0.1'], port: 0, root, fileCacheTtlMs: 60_000 }, logger });
    cleanups.push(() => gw.close(0));
    for (let i = 0; i < 3; i++) expect((await get({ host: '127.0.0.1', port: gw.port, path: 'grub.cfg', ...fast })).data!.toString()).toBe('set timeout=1\n');
    await tftpErrorOf(get({ host: '127.0.0.1', port: gw.port, path: 'missing.cfg', ...fast }));
    await waitUntil(() => gw.gateway.counters.sessionsByOutcome.ok === 3, 3000, 'three ok sessions counted');
    expect(gw.gateway.counters.sessionsByOutcome['not-found']).toBe(1);
    expect(lines.filter((l) => l.event === 'session')).toEqual([]);
    // A session that fails logs at warn: its record is built for that line.
    const p = await peer();
    p.rrq(gw.port, 'grub.cfg');
    const data = await p.expect(3);
    p.error(data.from.port, ErrorCode.NotDefined, 'cancelled');
    await waitUntil(() => lines.some((l) => l.event === 'session'), 3000, 'the failed session\'s line');
    expect(lines.find((l) => l.event === 'session')).toMatchObject({ outcome: 'client-abort', file: 'grub.cfg' });
  });
});
