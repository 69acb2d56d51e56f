/**
 * Client address filters (allow/deny lists of CIDRs), IPv4 and IPv6, with IPv4-mapped IPv6
 * addresses (::ffff:a.b.c.d) matched as IPv4.
 */
import { isIP } from 'node:net';

export interface Cidr {
  readonly family: 4 | 6;
  readonly bits: bigint;
  readonly prefix: number;
  readonly text: string;
}

function v4ToBig(addr: string): bigint {
  return addr.split('.').reduce((acc, o) => (acc << 8n) | BigInt(Number(o)), 0n);
}

function v6ToBig(addr: string): bigint {
  let a = addr.split('%')[0];
  // Embedded IPv4 tail, e.g. ::ffff:1.2.3.4
  const v4 = a.match(/(\d+\.\d+\.\d+\.\d+)$/);
  if (v4) {
    const n = v4ToBig(v4[1]);
    a = a.slice(0, -v4[1].length) + `${((n >> 16n) & 0xffffn).toString(16)}:${(n & 0xffffn).toString(16)}`;
  }
  const [head, tail] = a.includes('::') ? a.split('::') : [a, undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  return groups.reduce((acc, g) => (acc << 16n) | BigInt(parseInt(g || '0', 16)), 0n);
}

/** Canonical family and value of an address; IPv4-mapped IPv6 becomes IPv4. */
export function addressValue(address: string): { family: 4 | 6; value: bigint } | undefined {
  const fam = isIP(address.split('%')[0]);
  if (fam === 4) return { family: 4, value: v4ToBig(address) };
  if (fam === 6) {
    const v = v6ToBig(address);
    if (v >> 32n === 0xffffn) return { family: 4, value: v & 0xffffffffn };
    return { family: 6, value: v };
  }
  return undefined;
}

export function parseCidr(text: string): Cidr {
  const parts = text.trim().split('/');
  const [addr, len] = parts;
  const parsed = parts.length <= 2 ? addressValue(addr) : undefined;
  if (!parsed) throw new Error(`"${text}" is not an IP address or CIDR (e.g. 10.0.0.0/8, fd00::/8)`);
  // An IPv4-mapped network written in IPv6 form (::ffff:10.0.0.0/104) is matched as IPv4,
  // so its prefix counts from bit 96.
  const mapped = parsed.family === 4 && addr.includes(':');
  const max = mapped || parsed.family === 6 ? 128 : 32;
  // Decimal digits only: Number() would read "" as 0 and "0x8" as 8.
  if (len !== undefined && !/^[0-9]{1,3}$/.test(len)) throw new Error(`"${text}": prefix length must be 0..${max}`);
  let prefix = len === undefined ? max : Number(len);
  if (mapped) {
    if (prefix < 96 && prefix <= max) throw new Error(`"${text}": an IPv4-mapped network needs a prefix of 96..128`);
    prefix -= 96;
  }
  const width = parsed.family === 4 ? 32 : 128;
  if (prefix > width) {
    throw new Error(`"${text}": prefix length must be 0..${max}`);
  }
  return { family: parsed.family, bits: parsed.value >> BigInt(width - prefix), prefix, text };
}

export function cidrContains(c: Cidr, address: string): boolean {
  const a = addressValue(address);
  if (!a || a.family !== c.family) return false;
  const max = a.family === 4 ? 32 : 128;
  return a.value >> BigInt(max - c.prefix) === c.bits;
}

/** Deny wins; an empty allow list allows everyone. */
export class ClientFilter {
  private readonly allow: Cidr[];
  private readonly deny: Cidr[];
  constructor(allow: readonly string[], deny: readonly string[]) {
    this.allow = allow.map(parseCidr);
    this.deny = deny.map(parseCidr);
  }
  permits(address: string): boolean {
    if (this.deny.some((c) => cidrContains(c, address))) return false;
    return this.allow.length === 0 || this.allow.some((c) => cidrContains(c, address));
  }
}
