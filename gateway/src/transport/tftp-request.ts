/**
 * One TFTP request (RRQ or WRQ) as the transport hands it up, the way quinn-proto's
 * Endpoint::handle returns an `Incoming`: admission refuses it or accept opens a session for
 * it, and it is what a handler sees (handlers/request.ts names it in the handler contract).
 * It lives on the transport's floor so admission can refuse one without importing handlers/.
 */
import type { OptionMap, TransferMode } from '../protocol/packet.js';
import type { RequestPath } from '../protocol/path.js';
import type { Endpoint } from './endpoint.js';

export interface TftpRequest {
  readonly id: string;
  readonly kind: 'read' | 'write';
  readonly path: RequestPath;
  readonly mode: TransferMode;
  /** Options as the client sent them (names lower-cased). */
  readonly options: OptionMap;
  readonly peer: Endpoint;
  /** The local address and port the request arrived on; replies come from this address. */
  readonly local: Endpoint;
}
