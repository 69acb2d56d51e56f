/**
 * How a window leaves the socket: `sendWindow(socket, datagrams, peer)`. The pure session
 * decides WHAT to send (every reflection bound stays there: bytes in flight, the gradual window
 * for unproven peers, no per-ACK window resend); this only changes HOW: runs of equal-size
 * blocks to one peer go out as one UDP GSO sendmsg each (segment-plan.ts), everything else, and
 * everything on any error, through dgram as before.
 *
 * Fallbacks (as quinn-udp's send() in quinn-udp/src/unix.rs, which also learns GSO is broken
 * only from a failed send):
 *  - EIO: the NIC (or its driver) cannot segment/checksum: GSO off for the whole process;
 *  - EAGAIN/ENOBUFS/EINTR: the socket is full right now: this run goes through dgram, which
 *    queues it in libuv; GSO stays on;
 *  - any other errno (EINVAL: a segment larger than the route's MTU, EMSGSIZE...): GSO off for
 *    this socket;
 *  - a throw from the native call: GSO off for the process.
 * Each failed run is resent through dgram at once, so nothing is lost or duplicated (a failed
 * sendmsg sent nothing: UDP sends are all or nothing). Order is kept: GSO is only tried while
 * libuv has no send of this socket queued (dgram sends run synchronously when its queue is
 * empty), so a window never overtakes an earlier one.
 */
import type dgram from 'node:dgram';
import type { Logger } from 'pino';
import type { Datagram } from '../../session/types.js';
import type { GsoSyscall } from './gso-syscall.js';
import { loadGsoSyscall } from './gso-syscall.js';
import { probeGso, type ProbeResult } from './gso-probe.js';

let processProbe: Promise<ProbeResult> | undefined;
import { planRuns } from './segment-plan.js';
import { SEND_PATH_STATS, type SendPath } from './send-path-stats.js';
import { socketFd } from './socket-fd.js';
import { noteSends } from './queued-sends.js';
import { sockaddrOf } from './sockaddr.js';

/** 'auto': GSO when detection at start says so; 'gso': the same, warning when it is not there; 'plain': dgram only. */
export type SendPathMode = 'auto' | 'gso' | 'plain';

export interface Peer {
  readonly address: string;
  readonly port: number;
}

const TRANSIENT = new Set(['EAGAIN', 'EWOULDBLOCK', 'ENOBUFS', 'EINTR']);

/** Set once a failure says GSO cannot work on this machine (EIO, a throw): every sender in the process goes plain. */
let offForProcess = false;

/** Tests: forget a process-wide fallback (a real process keeps it until it restarts). */
export function resetProcessFallback(): void {
  offForProcess = false;
}

export interface WindowSenderOptions {
  log?: Pick<Logger, 'info' | 'warn'>;
  /** Tests: a stand-in for the native call (e.g. one that fails with EIO). */
  syscall?: GsoSyscall;
}

export class WindowSender {
  private path: SendPath = 'plain';
  private syscall: GsoSyscall | undefined;
  /** Sockets whose GSO sends failed for a reason of their own (route MTU): plain from then on. */
  private readonly plainSockets = new WeakSet<dgram.Socket>();
  private readonly loggedCodes = new Set<string>();
  /** The last peer's sockaddr: a window's runs, and a session's windows, share it. */
  private lastPeer: Peer | undefined;
  private lastSockaddr: Buffer | undefined;
  /** Settles when detection is done; windows go through dgram until then. */
  readonly ready: Promise<SendPath>;

  constructor(
    readonly mode: SendPathMode,
    private readonly options: WindowSenderOptions = {},
  ) {
    this.ready = this.detect();
  }

  /** The path windows take now. */
  get currentPath(): SendPath {
    return this.path;
  }

  private async detect(): Promise<SendPath> {
    if (this.mode === 'plain') return this.settle('plain', 'sendPath is plain (config)');
    let syscall = this.options.syscall;
    if (!syscall) {
      const loaded = loadGsoSyscall();
      if (!loaded.ok) return this.settle('plain', loaded.reason);
      syscall = loaded.syscall;
    }
    if (offForProcess) return this.settle('plain', 'an earlier GSO send in this process failed with EIO (no segmentation offload)');
    // The kernel's answer does not change within a process: the real syscall is probed once,
    // however many gateways (or TID socket sets) start; an injected one (tests) every time.
    const probe = this.options.syscall ? await probeGso(syscall) : await (processProbe ??= probeGso(syscall));
    if (!probe.ok) return this.settle('plain', probe.reason);
    this.syscall = syscall;
    return this.settle('gso', 'UDP_SEGMENT probe passed');
  }

  private settle(path: SendPath, reason: string): SendPath {
    this.path = path;
    SEND_PATH_STATS.path = path;
    SEND_PATH_STATS.reason = reason;
    const log = this.options.log;
    if (path === 'plain' && this.mode === 'gso') log?.warn({ event: 'sendPath', path, reason }, 'sendPath gso asked for, but UDP GSO is not usable here: DATA windows go one datagram per send');
    else log?.info({ event: 'sendPath', path, reason }, path === 'gso' ? 'DATA windows go out as UDP GSO sends' : 'DATA windows go out one datagram per send');
    return path;
  }

  /** Sends `datagrams` to `peer` in order, from `socket` (the session's TID, or the listening socket in single-port mode). */
  sendWindow(socket: dgram.Socket, datagrams: readonly Datagram[], peer: Peer): void {
    if (offForProcess && this.path === 'gso') this.path = 'plain';
    if (this.path !== 'gso' || datagrams.length < 2 || this.plainSockets.has(socket)) {
      this.sendPlain(socket, datagrams, 0, datagrams.length, peer);
      return;
    }
    const sockaddr = this.sockaddrFor(peer);
    for (const run of planRuns(datagrams)) {
      if (run.segmentBytes === undefined || !this.sendGso(socket, datagrams, run.start, run.end, run.segmentBytes, peer, sockaddr)) {
        this.sendPlain(socket, datagrams, run.start, run.end, peer);
      }
    }
  }

  /** One GSO send of datagrams [start, end); false when they must go through dgram instead. */
  private sendGso(socket: dgram.Socket, datagrams: readonly Datagram[], start: number, end: number, segmentBytes: number, peer: Peer, sockaddr: Buffer | undefined): boolean {
    const syscall = this.syscall;
    if (this.path !== 'gso' || !syscall || !sockaddr || this.plainSockets.has(socket)) return false;
    // libuv sends queued for this socket must leave first: dgram is FIFO, a raw sendmsg is not.
    if (socket.getSendQueueCount() > 0) return false;
    const fd = socketFd(socket);
    if (fd === undefined) return false;
    const parts: Uint8Array[] = [];
    for (let i = start; i < end; i++) {
      const d = datagrams[i];
      if (d instanceof Uint8Array) parts.push(d);
      else for (const p of d) parts.push(p);
    }
    let result;
    try {
      result = syscall.send(fd, sockaddr, parts, segmentBytes);
    } catch (e) {
      this.fallBack('throw', 'process', peer, (e as Error).message);
      return false;
    }
    if (result.ok) {
      SEND_PATH_STATS.gsoSends++;
      SEND_PATH_STATS.gsoSegments += end - start;
      return true;
    }
    const code = result.code;
    if (code === 'EIO') this.fallBack(code, 'process', peer);
    else if (TRANSIENT.has(code)) this.fallBack(code, 'send', peer);
    else {
      this.plainSockets.add(socket);
      this.fallBack(code, 'socket', peer);
    }
    return false;
  }

  private fallBack(code: string, scope: 'process' | 'socket' | 'send', peer: Peer, detail?: string): void {
    SEND_PATH_STATS.fallbacks++;
    SEND_PATH_STATS.fallbacksByCode[code] = (SEND_PATH_STATS.fallbacksByCode[code] ?? 0) + 1;
    if (scope === 'process') {
      offForProcess = true;
      this.path = 'plain';
      SEND_PATH_STATS.path = 'plain';
      SEND_PATH_STATS.reason = `a GSO send failed with ${code}${detail ? ` (${detail})` : ''}`;
    }
    // Once per errno: a full socket buffer can repeat thousands of times a second.
    if (this.loggedCodes.has(code)) return;
    this.loggedCodes.add(code);
    const then = scope === 'process' ? 'UDP GSO is off for this process' : scope === 'socket' ? 'UDP GSO is off for this socket' : 'this window went out through dgram';
    this.options.log?.warn({ event: 'sendPathFallback', code, scope, peer: peer.address, detail }, `a UDP GSO send failed with ${code}: ${then}`);
  }

  private sendPlain(socket: dgram.Socket, datagrams: readonly Datagram[], start: number, end: number, peer: Peer): void {
    SEND_PATH_STATS.plainDatagrams += end - start;
    for (let i = start; i < end; i++) socket.send(oneBuffer(datagrams[i]), peer.port, peer.address);
    // A full socket buffer queues the send in libuv, holding views of the source's bytes.
    noteSends(socket);
  }

  private sockaddrFor(peer: Peer): Buffer | undefined {
    if (this.lastPeer !== peer && (this.lastPeer?.address !== peer.address || this.lastPeer.port !== peer.port)) {
      this.lastPeer = peer;
      this.lastSockaddr = sockaddrOf(peer.address, peer.port);
    }
    return this.lastSockaddr;
  }
}

/**
 * Parts totalling at most this many bytes (a 1 KiB block and its header) are copied into one
 * Buffer before a plain send; Buffer.allocUnsafe takes it from its shared 8 KiB pool. Measured
 * both ways (docs/PERFORMANCE.md, "The boot storm per DATA block"): for 1028-byte datagrams
 * the copy costs the gateway 2 µs less user CPU per 1 KiB request than parts, and for 1472-byte
 * ones (blksize 1468) it costs a boot storm 10% more CPU than parts.
 */
const COPY_MAX_BYTES = 1028;

/**
 * A datagram as dgram sends it fastest. Given an array, dgram (fixBufferList) allocates a new
 * array and a Buffer view per part on every send, which costs more than copying a small block:
 * in the 1 KiB benchmark those views were 4% of the gateway's allocations (issue 13). Larger
 * blocks keep going as parts, never copied.
 */
export function oneBuffer(d: Datagram): Uint8Array | Uint8Array[] {
  if (d instanceof Uint8Array) return d;
  if (d.length === 1) return d[0];
  let bytes = 0;
  for (const p of d) bytes += p.length;
  if (bytes > COPY_MAX_BYTES) return d as Uint8Array[];
  const out = Buffer.allocUnsafe(bytes);
  let at = 0;
  for (const p of d) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
