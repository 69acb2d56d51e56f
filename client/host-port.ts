/**
 * Parses HOST[:PORT] as typed on a command line. Pure.
 *
 *   127.0.0.1          127.0.0.1:6969     localhost:6969
 *   ::1                [::1]              [::1]:6969
 *
 * A bare IPv6 literal has colons of its own, so a port after it needs brackets, as in URLs.
 */
import { isIP } from 'node:net';

export interface HostPort {
  host: string;
  port: number | undefined;
}

function parsePort(raw: string, input: string): number {
  const port = /^[0-9]{1,5}$/.test(raw) ? Number(raw) : NaN;
  if (!(port >= 1 && port <= 65535)) throw new Error(`invalid port "${raw}" in "${input}": use a number from 1 to 65535`);
  return port;
}

export function parseHostPort(input: string): HostPort {
  const s = input.trim();
  if (s.startsWith('[')) {
    const close = s.indexOf(']');
    if (close < 0) throw new Error(`unclosed "[" in "${input}": write IPv6 as [::1]:6969`);
    const host = s.slice(1, close);
    if (isIP(host) !== 6) throw new Error(`"${host}" in "${input}" is not an IPv6 address`);
    const rest = s.slice(close + 1);
    if (rest === '') return { host, port: undefined };
    if (!rest.startsWith(':')) throw new Error(`unexpected "${rest}" after "]" in "${input}"`);
    return { host, port: parsePort(rest.slice(1), input) };
  }
  if (isIP(s) === 6) return { host: s, port: undefined };
  const colon = s.lastIndexOf(':');
  if (colon < 0) {
    if (s === '') throw new Error('empty host: give an address such as 127.0.0.1 or [::1]:6969');
    return { host: s, port: undefined };
  }
  if (s.indexOf(':') !== colon) throw new Error(`ambiguous "${input}": put IPv6 addresses in brackets, as [::1]:6969`);
  const host = s.slice(0, colon);
  if (host === '') throw new Error(`missing host in "${input}"`);
  return { host, port: parsePort(s.slice(colon + 1), input) };
}
