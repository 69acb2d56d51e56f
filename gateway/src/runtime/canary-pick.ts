/**
 * Which version a new session of a function runs while a canary is out (issue 12): a pure,
 * stable choice from the client's identity, so one machine keeps its version for the whole
 * canary (every request of a boot lands on the same side) and every gateway of the fleet makes
 * the same choice for it.
 *
 * The identity is the MAC address in the request path when it has one (sdk/mac.ts: a machine
 * behind NAT or re-addressed by DHCP stays itself), else the peer IP. The function's name is
 * hashed in too, so a machine in the first 10% of one function's canary is not in the first 10%
 * of every function's.
 */
import { createHash } from 'node:crypto';
import { parseMac } from '../../../sdk/mac.js';

/** Basis points: a canary percent may have two decimals (0.25% is 25 of 10,000 buckets). */
const BUCKETS = 10_000;

/** The client identity the pick hashes: the MAC in the path, else the peer address. */
export function clientIdentity(path: string, peerAddress: string): string {
  const mac = parseMac(path);
  return mac ? `mac:${mac}` : `ip:${peerAddress}`;
}

/** The client's bucket for a function: the first 4 bytes of sha256(identity NUL function), mod 10,000. */
export function canaryBucket(identity: string, fn: string): number {
  return createHash('sha256').update(identity).update('\0').update(fn).digest().readUInt32BE(0) % BUCKETS;
}

/** True when a new session from `identity` goes to the canary that takes `percent`% (0–100) of clients. */
export function picksCanary(identity: string, fn: string, percent: number): boolean {
  if (!(percent > 0)) return false;
  if (percent >= 100) return true;
  return canaryBucket(identity, fn) < Math.round(percent * (BUCKETS / 100));
}
