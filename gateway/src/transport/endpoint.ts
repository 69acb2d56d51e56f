/**
 * One end of a UDP exchange: a peer, or the local address and port a datagram arrived on.
 * RFC 1350 section 4 identifies a transfer by its two ends' ports (the TIDs); the address and
 * family say which socket a reply must leave from (a NIC drops DATA from another local IP).
 *
 * The transport owns it because it reads it off sockets; the handlers (handlers/request.ts),
 * admission, accept and the stats record use it without reaching up a floor.
 */
export interface Endpoint {
  readonly address: string;
  readonly port: number;
  readonly family: 'IPv4' | 'IPv6';
}
