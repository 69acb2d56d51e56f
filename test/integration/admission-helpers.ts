/**
 * Many UDP clients at once, each bound to its own loopback address (Linux answers all of
 * 127/8 on `lo`), for the admission tests: floods from one address, one prefix, or many.
 * Every socket keeps what it received, decoded; waits are bounded by the callers.
 */
import dgram from 'node:dgram';
import { decodePacket, encodePacket, type OptionMap, type Packet } from '../../gateway/src/protocol/packet.js';

export interface CrowdMember {
  readonly socket: dgram.Socket;
  readonly address: string;
  readonly port: number;
  readonly received: Packet[];
}

export class Crowd {
  private constructor(readonly members: CrowdMember[]) {}

  /** One socket per entry of `addresses` (repeat an address for several ports on it). */
  static async open(addresses: string[]): Promise<Crowd> {
    const members = await Promise.all(
      addresses.map(
        (address) =>
          new Promise<CrowdMember>((resolve, reject) => {
            const socket = dgram.createSocket('udp4');
            socket.once('error', reject);
            socket.bind(0, address, () => {
              const received: Packet[] = [];
              socket.on('message', (raw) => {
                try {
                  received.push(decodePacket(raw));
                } catch {
                  /* not TFTP: ignored */
                }
              });
              resolve({ socket, address, port: socket.address().port, received });
            });
          }),
      ),
    );
    return new Crowd(members);
  }

  /** Every member sends one RRQ (54 bytes or so: spoofable, as in issue 9). */
  rrqAll(serverPort: number, filename: string, options: OptionMap = {}): number {
    const bytes = encodePacket({ op: 1, filename, mode: 'octet', options });
    for (const m of this.members) m.socket.send(bytes, serverPort, '127.0.0.1');
    return bytes.length;
  }

  /** Members that received at least one datagram matching `pred`. */
  countWith(pred: (p: Packet) => boolean): number {
    return this.members.filter((m) => m.received.some(pred)).length;
  }

  /** Datagrams matching `pred`, over every member. */
  countDatagrams(pred: (p: Packet) => boolean): number {
    return this.members.reduce((n, m) => n + m.received.filter(pred).length, 0);
  }

  /** Members that received nothing at all. */
  countSilent(): number {
    return this.members.filter((m) => m.received.length === 0).length;
  }

  close(): void {
    for (const m of this.members) m.socket.close();
  }
}

/** `count` addresses 127.A.B.C starting at `first` (e.g. '127.0.0.10'), within one /24. */
export function addressesIn24(first: string, count: number): string[] {
  const [a, b, c, d] = first.split('.').map(Number);
  if (d + count > 255) throw new Error('addressesIn24: would leave the /24');
  return Array.from({ length: count }, (_, i) => `${a}.${b}.${c}.${d + i}`);
}
