/**
 * Detection at start: is UDP GSO usable here? A kernel version says little (a container may
 * run under seccomp, koffi may not load), so the probe makes a real GSO sendmsg of two 8-byte
 * segments between two loopback sockets of its own and waits until both arrive as two
 * datagrams. Loopback always segments in software, so a NIC without checksum offload still
 * passes here; that shows up later as EIO on a real send (gso-sender.ts falls back then).
 */
import dgram from 'node:dgram';
import type { GsoSyscall } from './gso-syscall.js';
import { socketFd } from './socket-fd.js';
import { sockaddrOf } from './sockaddr.js';

const PROBE_TIMEOUT_MS = 1000;
const SEGMENT_BYTES = 8;

export type ProbeResult = { ok: true } | { ok: false; reason: string };

function bindLoopback(): Promise<dgram.Socket> {
  return new Promise((resolve, reject) => {
    const s = dgram.createSocket('udp4');
    s.once('error', reject);
    s.bind(0, '127.0.0.1', () => {
      s.off('error', reject);
      resolve(s);
    });
  });
}

export async function probeGso(syscall: GsoSyscall): Promise<ProbeResult> {
  let sender: dgram.Socket | undefined;
  let receiver: dgram.Socket | undefined;
  try {
    sender = await bindLoopback();
    receiver = await bindLoopback();
    const fd = socketFd(sender);
    if (fd === undefined) return { ok: false, reason: "this Node's dgram socket exposes no file descriptor" };
    const rx = receiver;
    const arrived = new Promise<number[]>((resolve) => {
      const sizes: number[] = [];
      const timer = setTimeout(() => resolve(sizes), PROBE_TIMEOUT_MS);
      rx.on('message', (msg) => {
        sizes.push(msg.length);
        if (sizes.length === 2) {
          clearTimeout(timer);
          resolve(sizes);
        }
      });
    });
    const to = sockaddrOf('127.0.0.1', receiver.address().port)!;
    const parts = [Buffer.alloc(SEGMENT_BYTES, 1), Buffer.alloc(SEGMENT_BYTES, 2)];
    const r = syscall.send(fd, to, parts, SEGMENT_BYTES);
    if (!r.ok) return { ok: false, reason: `a probe sendmsg with UDP_SEGMENT failed with ${r.code}` };
    const sizes = await arrived;
    if (sizes.length !== 2 || sizes.some((n) => n !== SEGMENT_BYTES)) {
      return { ok: false, reason: `a probe GSO send arrived as ${sizes.length} datagram(s) of ${sizes.join(', ') || 'no'} bytes, not 2 of ${SEGMENT_BYTES}` };
    }
    return { ok: true };
  } catch (e) {
    return { ok: false, reason: `the GSO probe failed: ${(e as Error).message}` };
  } finally {
    // Closed before the answer: a start that fails right after must leave no socket behind.
    await Promise.all([sender, receiver].map((s) => (s ? new Promise<void>((resolve) => s.close(() => resolve())) : undefined)));
  }
}
