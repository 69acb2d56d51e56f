/**
 * The network prefix a client address belongs to, for per-prefix limits: by default the /24
 * of an IPv4 address and the /64 of an IPv6 one (the smallest block a site usually gets, so
 * one source of trouble rarely spans two). IPv4-mapped IPv6 addresses (::ffff:a.b.c.d, what a
 * dual-stack socket reports) count as the IPv4 address they carry.
 */
import { addressValue } from '../transport/cidr.js';

export interface PrefixLengths {
  /** Bits kept of an IPv4 address (0..32). */
  readonly v4: number;
  /** Bits kept of an IPv6 address (0..128). */
  readonly v6: number;
}

/** The prefix in CIDR notation (`10.1.2.0/24`, `2001:db8:0:1::/64`), or undefined for a non-address. */
export function prefixOf(address: string, lengths: PrefixLengths): string | undefined {
  const a = addressValue(address);
  if (!a) return undefined;
  const width = a.family === 4 ? 32 : 128;
  const bits = Math.max(0, Math.min(width, a.family === 4 ? lengths.v4 : lengths.v6));
  const hostBits = BigInt(width - bits);
  const network = (a.value >> hostBits) << hostBits;
  return `${a.family === 4 ? formatV4(network) : formatV6(network)}/${bits}`;
}

function formatV4(v: bigint): string {
  return [24n, 16n, 8n, 0n].map((s) => Number((v >> s) & 0xffn)).join('.');
}

/** RFC 5952 text: lower-case hex, leading zeros dropped, the longest run of 2+ zero groups as `::`. */
function formatV6(v: bigint): string {
  const groups: number[] = [];
  for (let i = 7; i >= 0; i--) groups.push(Number((v >> BigInt(i * 16)) & 0xffffn));
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (g: number[]) => g.map((n) => n.toString(16)).join(':');
  if (bestStart < 0) return hex(groups);
  return `${hex(groups.slice(0, bestStart))}::${hex(groups.slice(bestStart + bestLen))}`;
}
