/**
 * Which sockets have sends waiting in libuv, so read buffers are reused only when no queued send
 * can still point at them (sources/read-buffer-pool.ts).
 *
 * dgram.send() writes at once when the socket's libuv queue is empty (uv_udp_try_send) and the
 * kernel copies the bytes; only when the socket buffer is full is the send queued, keeping a
 * reference to our parts until it leaves. A GSO sendmsg (window-sender.ts) is always synchronous.
 * So the window sender notes a socket here when a plain send left something queued, and
 * `anySendQueued()` says whether any such socket still has sends waiting. Process-wide and
 * conservative: one full socket anywhere postpones every session's release to its next read
 * (releases are cumulative), which costs an allocation, never a wrong byte.
 */
import type dgram from 'node:dgram';

const queued = new Set<dgram.Socket>();

/** After sends on `socket`: remember it while libuv still holds some of them. */
export function noteSends(socket: dgram.Socket): void {
  if (queuedCount(socket) > 0) queued.add(socket);
}

/** True while any noted socket still has sends queued in libuv. */
export function anySendQueued(): boolean {
  if (queued.size === 0) return false;
  for (const socket of queued) if (queuedCount(socket) === 0) queued.delete(socket);
  return queued.size > 0;
}

function queuedCount(socket: dgram.Socket): number {
  try {
    return socket.getSendQueueCount();
  } catch {
    // Closed: libuv cancelled what was queued and writes nothing more from it.
    return 0;
  }
}
