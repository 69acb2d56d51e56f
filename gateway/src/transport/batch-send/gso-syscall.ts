/**
 * The one native call of the batched send path: sendmsg(2) with a UDP_SEGMENT control message,
 * made through koffi (an FFI library whose npm package ships prebuilt binaries for Linux, so
 * nothing is compiled at install; an optionalDependency, so an install without it still works).
 * Nothing here decides anything: the caller (gso-sender.ts) plans the runs and handles errors.
 *
 * The control message, as quinn-udp's gso::set_segment_size writes it (udp(7)):
 *
 *   struct cmsghdr (16 bytes on 64-bit)   payload   padding
 *   +-------------+-----------+----------+---------+-------+
 *   | cmsg_len=18 | level=17  | type=103 | u16 seg | 6 x 0 |   CMSG_SPACE(2) = 24 bytes
 *   |   (u64)     | SOL_UDP   | UDP_SEG. |         |       |
 *   +-------------+-----------+----------+---------+-------+
 */
import { createRequire } from 'node:module';
import { release } from 'node:os';

const SOL_UDP = 17;
const UDP_SEGMENT = 103;
/** The most one GSO send carries (segment-plan.ts MAX_GSO_BYTES is 65,507), rounded up. */
const SCRATCH_BYTES = 64 * 1024;
/** Support for UDP_SEGMENT arrived in Linux 4.18 (torvalds/linux cb586c63e3fc). */
const MIN_KERNEL: readonly [number, number] = [4, 18];

export type SendmsgResult = { ok: true; bytes: number } | { ok: false; errno: number; code: string };

export interface GsoSyscall {
  /** One sendmsg of `parts` (the concatenated datagrams) to `sockaddr`, cut by the kernel into `segmentBytes` datagrams. */
  send(fd: number, sockaddr: Buffer, parts: readonly Uint8Array[], segmentBytes: number): SendmsgResult;
}

/** Why the native call is not available, or the call itself. */
export type GsoLoad = { ok: true; syscall: GsoSyscall } | { ok: false; reason: string };

/** "4.18.0-553.el8" → [4, 18]; undefined when unreadable. */
export function kernelVersion(text: string): [number, number] | undefined {
  const m = /^(\d+)\.(\d+)/.exec(text);
  return m ? [Number(m[1]), Number(m[2])] : undefined;
}

let loaded: GsoLoad | undefined;

/** Loads koffi and binds sendmsg once per process; never throws. */
export function loadGsoSyscall(): GsoLoad {
  loaded ??= load();
  return loaded;
}

function load(): GsoLoad {
  if (process.platform !== 'linux') return { ok: false, reason: `UDP GSO is Linux-only (platform ${process.platform})` };
  const kernel = kernelVersion(release());
  if (!kernel || kernel[0] < MIN_KERNEL[0] || (kernel[0] === MIN_KERNEL[0] && kernel[1] < MIN_KERNEL[1])) {
    return { ok: false, reason: `kernel ${release()} is older than 4.18 (no UDP_SEGMENT)` };
  }
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  let koffi: any;
  try {
    koffi = createRequire(import.meta.url)('koffi');
  } catch (e) {
    return { ok: false, reason: `the optional package koffi is not installed or does not load here (${(e as Error).message.split('\n')[0]})` };
  }
  try {
    const libc = koffi.load('libc.so.6');
    const iovec = koffi.struct('tftpfn_iovec', { iov_base: 'void *', iov_len: 'size_t' });
    const msghdr = koffi.struct('tftpfn_msghdr', {
      msg_name: 'void *',
      msg_namelen: 'uint32_t',
      msg_iov: koffi.pointer(iovec),
      msg_iovlen: 'size_t',
      msg_control: 'void *',
      msg_controllen: 'size_t',
      msg_flags: 'int',
    });
    const sendmsg = libc.func('sendmsg', 'long', ['int', koffi.pointer(msghdr), 'int']);
    const errnoNames = new Map<number, string>(Object.entries(koffi.os.errno as Record<string, number>).map(([k, v]) => [v, k]));
    // One control buffer per segment size in use (a handful: blksize + 4 per negotiated blksize).
    const controls = new Map<number, Buffer>();
    const controlFor = (segmentBytes: number): Buffer => {
      let c = controls.get(segmentBytes);
      if (!c) {
        c = Buffer.alloc(24);
        c.writeBigUInt64LE(18n, 0);
        c.writeInt32LE(SOL_UDP, 8);
        c.writeInt32LE(UDP_SEGMENT, 12);
        c.writeUInt16LE(segmentBytes, 16);
        if (controls.size < 64) controls.set(segmentBytes, c);
      }
      return c;
    };
    // koffi turns each iovec object into C at every call, about 0.3 µs each: with a header and a
    // payload per datagram that was most of the user-space cost of a window (measured: 0.9-1.1
    // µs per datagram with two iovecs each against 0.3-0.4 copying into one buffer first, 16
    // and 44 segments of 1472 bytes). sendmsg copies the bytes into the kernel before it
    // returns, so one scratch buffer serves every send of the process.
    const scratch = Buffer.allocUnsafeSlow(SCRATCH_BYTES);
    const one = [{ iov_base: scratch as Uint8Array, iov_len: 0 }];
    const syscall: GsoSyscall = {
      send(fd, sockaddr, parts, segmentBytes) {
        let iov: { iov_base: Uint8Array; iov_len: number }[];
        let total = 0;
        for (let i = 0; i < parts.length; i++) total += parts[i].length;
        if (parts.length > 1 && total <= SCRATCH_BYTES) {
          let at = 0;
          for (let i = 0; i < parts.length; i++) {
            scratch.set(parts[i], at);
            at += parts[i].length;
          }
          one[0].iov_len = total;
          iov = one;
        } else {
          iov = new Array<{ iov_base: Uint8Array; iov_len: number }>(parts.length);
          for (let i = 0; i < parts.length; i++) iov[i] = { iov_base: parts[i], iov_len: parts[i].length };
        }
        const msg = {
          msg_name: sockaddr,
          msg_namelen: sockaddr.length,
          msg_iov: iov,
          msg_iovlen: iov.length,
          msg_control: controlFor(segmentBytes),
          msg_controllen: 24,
          msg_flags: 0,
        };
        const n = Number(sendmsg(fd, msg, 0));
        if (n >= 0) return { ok: true, bytes: n };
        const errno = koffi.errno() as number;
        return { ok: false, errno, code: errnoNames.get(errno) ?? `errno ${errno}` };
      },
    };
    return { ok: true, syscall };
  } catch (e) {
    return { ok: false, reason: `sendmsg could not be bound through koffi (${(e as Error).message})` };
  }
}
