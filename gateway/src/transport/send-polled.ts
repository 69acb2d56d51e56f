/**
 * What one drain of a session polled out, handed to the transport: each datagram to `send`,
 * or all of them in one `sendWindow` call where the transport batches windows (UDP GSO,
 * transport/batch-send).
 */
import type { Datagram, Session } from '../session/types.js';

const NO_DATAGRAM: Datagram = new Uint8Array(0);
/** The array of a one-datagram window, shared; in use only during a synchronous sendWindow. */
const ONE: Datagram[] = [NO_DATAGRAM];
let oneInUse = false;

/** The driver's two ways out (DriverIo in session-driver.ts). */
interface SendIo {
  send(d: Datagram): void;
  sendWindow?(datagrams: readonly Datagram[]): void;
}

export function sendPolled(session: Session, io: SendIo): void {
  let pkt: Datagram | undefined;
  if (io.sendWindow === undefined) {
    while ((pkt = session.pollTransmit()) !== undefined) io.send(pkt);
    return;
  }
  const first = session.pollTransmit();
  if (first === undefined) return;
  const second = session.pollTransmit();
  if (second === undefined && !oneInUse) {
    // Lock-step: one DATA per ACK. The window sender keeps no reference to the array, so one
    // array serves every driver instead of a new one per block (issue 13: allocation per block).
    oneInUse = true;
    ONE[0] = first;
    try {
      io.sendWindow(ONE);
    } finally {
      ONE[0] = NO_DATAGRAM;
      oneInUse = false;
    }
    return;
  }
  const window: Datagram[] = second === undefined ? [first] : [first, second];
  while ((pkt = session.pollTransmit()) !== undefined) window.push(pkt);
  io.sendWindow(window);
}
