/**
 * The file descriptor of a bound `dgram.Socket`, which Node does not expose publicly.
 *
 * What this relies on (checked in Node 20, 22 and 24's lib/internal/dgram.js and
 * src/udp_wrap.cc): the socket keeps its state under an own symbol described 'state symbol'
 * (`kStateSymbol`), whose `handle` is the UDPWrap, and UDPWrap has an `fd` getter on Unix (-1
 * on Windows and once closed). `socket._handle` reads the same handle but emits the runtime
 * deprecation DEP0112, so it is not used. Anything unexpected yields undefined, and the caller
 * sends through dgram as before: this is an optimisation, never a requirement.
 */
import type dgram from 'node:dgram';

let stateSymbol: symbol | undefined;

export function socketFd(socket: dgram.Socket): number | undefined {
  if (stateSymbol === undefined) {
    stateSymbol = Object.getOwnPropertySymbols(socket).find((s) => s.description === 'state symbol');
    if (stateSymbol === undefined) return undefined;
  }
  const state = (socket as unknown as Record<symbol, { handle?: { fd?: unknown } | null } | undefined>)[stateSymbol];
  const fd = state?.handle?.fd;
  return typeof fd === 'number' && fd >= 0 ? fd : undefined;
}
