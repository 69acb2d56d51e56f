/**
 * The peer's address as the `struct sockaddr_in` / `sockaddr_in6` bytes sendmsg takes
 * (Linux layout, little-endian hosts: family in host order, port and address in network order).
 *
 *   sockaddr_in  (16 bytes): family u16 | port u16be | addr[4] | zero[8]
 *   sockaddr_in6 (28 bytes): family u16 | port u16be | flowinfo u32 | addr[16] | scope_id u32
 *
 * Scoped IPv6 addresses (fe80::1%eth0) return undefined: their scope needs if_nametoindex, and
 * link-local peers are rare enough to keep on the plain path.
 */
import { isIPv4, isIPv6 } from 'node:net';

const AF_INET = 2;
const AF_INET6 = 10;

export function sockaddrOf(address: string, port: number): Buffer | undefined {
  if (isIPv4(address)) {
    const b = Buffer.alloc(16);
    b.writeUInt16LE(AF_INET, 0);
    b.writeUInt16BE(port, 2);
    const parts = address.split('.');
    for (let i = 0; i < 4; i++) b[4 + i] = Number(parts[i]);
    return b;
  }
  if (address.includes('%') || !isIPv6(address)) return undefined;
  const b = Buffer.alloc(28);
  b.writeUInt16LE(AF_INET6, 0);
  b.writeUInt16BE(port, 2);
  const words = ipv6Words(address);
  if (!words) return undefined;
  for (let i = 0; i < 8; i++) b.writeUInt16BE(words[i], 8 + i * 2);
  return b;
}

/** The eight 16-bit words of an IPv6 literal, with '::' and a dotted IPv4 tail expanded. */
function ipv6Words(address: string): number[] | undefined {
  let text = address;
  const tail: number[] = [];
  const lastColon = text.lastIndexOf(':');
  if (text.slice(lastColon + 1).includes('.')) {
    const v4 = text.slice(lastColon + 1).split('.').map(Number);
    tail.push((v4[0] << 8) | v4[1], (v4[2] << 8) | v4[3]);
    text = text.slice(0, lastColon + 1) + '0';
  }
  const [head, rest] = text.split('::');
  const parse = (s: string | undefined) => (s ? s.split(':').filter((w) => w !== '').map((w) => parseInt(w, 16)) : []);
  const h = parse(head);
  const r = parse(rest);
  if (tail.length > 0) (rest === undefined ? h : r).pop();
  const fill = 8 - h.length - r.length - tail.length;
  const words = rest === undefined ? [...h, ...tail] : [...h, ...new Array<number>(Math.max(0, fill)).fill(0), ...r, ...tail];
  return words.length === 8 && words.every((w) => Number.isInteger(w) && w >= 0 && w <= 0xffff) ? words : undefined;
}
