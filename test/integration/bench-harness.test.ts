/**
 * The benchmark harness's pieces for issue 13, on loopback with real processes and sockets, not
 * timed: the atftpd, npm `tftp` and node-floor launchers start, serve a file with the options the
 * scenarios ask for, and stop (freeing their port); the load client counts RRQs it had to send again.
 */
import dgram from 'node:dgram';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { get } from '../../client/index.js';
import { runLoad } from '../../client/load.js';
import { atftpdSpec, nodeFloorSpec, npmTftpSpec, serverSpecs, startServer, type ServerSpec } from '../../bench/servers.js';
import { REPO_ROOT } from '../../bench/repo-root.js';
import { ensureAtftpd } from '../../bench/setup.js';
import { Opcode } from '../../gateway/src/protocol/packet.js';

let root: string;
// Not a multiple of any block size asked, so the last block is short; > 16 × 1468 so windows fill.
const FILE = Buffer.from(Array.from({ length: 100_003 }, (_, i) => (i * 131 + 7) & 0xff));

beforeAll(() => {
  root = mkdtempSync(join(os.tmpdir(), 'tftpfn-bench-harness-'));
  writeFileSync(join(root, 'probe.bin'), 'probe');
  writeFileSync(join(root, 'file.bin'), FILE);
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** A UDP port free right now on 127.0.0.1 (the kernel's pick, released at once). */
async function freePort(): Promise<number> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', r));
  const { port } = s.address();
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** Whether 127.0.0.1:port can be bound, i.e. nothing listens there any more. */
async function canBind(port: number): Promise<boolean> {
  const s = dgram.createSocket('udp4');
  return new Promise((resolve) => {
    s.once('error', () => resolve(false));
    s.bind(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

async function serveAndStop(spec: ServerSpec, ...optionSets: { blksize: number; windowsize: number }[]): Promise<void> {
  expect(spec.unavailable).toBeUndefined();
  const port = await freePort();
  const server = await startServer(spec, port, root, 'probe.bin', 20_000);
  try {
    for (const options of optionSets) {
      const r = await get({ host: '127.0.0.1', port, path: 'file.bin', ...options, timeoutMs: 1000, retries: 3 });
      expect(r.data?.equals(FILE), JSON.stringify(options)).toBe(true);
      expect(r.blockSize).toBe(options.blksize);
      expect(r.windowSize).toBe(options.windowsize);
      expect(r.retransmits, JSON.stringify(options)).toBe(0);
    }
  } finally {
    await server.stop(3000);
  }
  expect(server.running).toBe(false);
  expect(await canBind(port)).toBe(true);
}

describe('bench launchers', () => {
  it('atftpd: starts in the foreground on a loopback port, serves a file with windowsize 16, and stops', async () => {
    // Unpacks the Debian package when missing (the bench's own setup); bounded by the hook timeout.
    const problem = ensureAtftpd(() => {});
    expect(problem).toBeUndefined();
    await serveAndStop(atftpdSpec(), { blksize: 1468, windowsize: 16 });
  });

  it('--baseline: another built checkout (here this one) starts as tftpfn-base with the bench\'s serve flags, serves a file, and stops', async () => {
    const base = serverSpecs(root, REPO_ROOT).find((sp) => sp.name === 'tftpfn-base')!;
    expect(base.command(1, root).args).toContain(join(REPO_ROOT, 'bin/tftpfn.js'));
    await serveAndStop(base, { blksize: 1468, windowsize: 16 });
  });

  it('npm tftp: the launcher starts, serves a file with windowsize 64 (its cap raised from 4), and stops', async () => {
    await serveAndStop(npmTftpSpec(), { blksize: 1468, windowsize: 64 });
  });

  it('node floor: the reference responder serves a file byte for byte in lock-step, windowsize 16 and 64, blksize 1468 and 65464, and stops', async () => {
    await serveAndStop(
      nodeFloorSpec(),
      { blksize: 1468, windowsize: 1 },
      { blksize: 1468, windowsize: 16 },
      { blksize: 1468, windowsize: 64 },
      { blksize: 65464, windowsize: 1 },
      { blksize: 512, windowsize: 1 },
    );
  });
});

/**
 * A fake server on loopback that ignores the first `ignore` RRQs and answers the next one with
 * a single short DATA block from a fresh port (a complete transfer); returns the RRQs it saw.
 */
async function fakeServer(ignore: number): Promise<{ port: number; rrqs: () => number; close: () => Promise<void> }> {
  const listener = dgram.createSocket('udp4');
  const sockets: dgram.Socket[] = [listener];
  let rrqs = 0;
  listener.on('message', (msg, rinfo) => {
    if (((msg[0] << 8) | msg[1]) !== Opcode.Rrq) return;
    if (++rrqs <= ignore) return;
    const tid = dgram.createSocket('udp4');
    sockets.push(tid);
    tid.bind(0, '127.0.0.1', () => tid.send(Buffer.from([0, Opcode.Data, 0, 1, 0x68, 0x69]), rinfo.port, rinfo.address));
  });
  await new Promise<void>((r) => listener.bind(0, '127.0.0.1', r));
  return {
    port: listener.address().port,
    rrqs: () => rrqs,
    close: async () => {
      await Promise.all(sockets.map((s) => new Promise<void>((r) => s.close(() => r()))));
    },
  };
}

describe('load client: RRQ retransmissions', () => {
  it('counts none when the server answers the first RRQ', async () => {
    const server = await fakeServer(0);
    try {
      const r = await runLoad({ host: '127.0.0.1', port: server.port, path: 'x', concurrency: 1, count: 3, timeoutMs: 300, retries: 3 });
      expect(r.requests).toBe(3);
      expect(r.rrqRetransmits).toBe(0);
      expect(r.rrqRetriedRequests).toBe(0);
      expect(server.rrqs()).toBe(3);
    } finally {
      await server.close();
    }
  });

  it('counts an RRQ sent again after a timeout with no reply, once per resend', async () => {
    const server = await fakeServer(2);
    try {
      const r = await runLoad({ host: '127.0.0.1', port: server.port, path: 'x', concurrency: 1, count: 1, timeoutMs: 100, retries: 5 });
      expect(r.requests).toBe(1);
      expect(r.failures).toBe(0);
      expect(r.rrqRetransmits).toBe(2);
      expect(r.rrqRetriedRequests).toBe(1);
      expect(server.rrqs()).toBe(3);
    } finally {
      await server.close();
    }
  });

  it('counts the resends of a request that never got an answer, and the failure', async () => {
    const server = await fakeServer(Infinity);
    try {
      const r = await runLoad({ host: '127.0.0.1', port: server.port, path: 'x', concurrency: 1, count: 1, timeoutMs: 50, retries: 2 });
      expect(r.requests).toBe(0);
      expect(r.failures).toBe(1);
      expect(r.rrqRetransmits).toBe(2);
      expect(r.rrqRetriedRequests).toBe(1);
      expect(server.rrqs()).toBe(3);
    } finally {
      await server.close();
    }
  });
});
