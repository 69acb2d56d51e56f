/**
 * What the accept step works with: the gateway's parts it needs (AcceptContext) and one
 * admitted request (Arrival). Its own file so that the accept step (open-session.ts) and a
 * running session's edges (running-session.ts) share it without importing each other.
 */
import type dgram from 'node:dgram';
import type { Logger } from 'pino';
import type { Endpoint, RequestHandler, TftpRequest } from '../handlers/request.js';
import type { RequestPacket } from '../protocol/packet.js';
import type { ServerCounters } from '../stats/counters.js';
import type { SessionBus } from '../stats/session-bus.js';
import type { Admission } from '../admission/admission.js';
import type { AdmissionRefusals } from '../admission/refusals.js';
import type { SessionEntry, SessionTable } from '../admission/session-table.js';
import type { StrangerReplies } from '../transport/stranger-replies.js';
import type { TidSockets } from '../transport/tid-socket.js';
import type { SessionPlan } from './session-plan.js';

export interface AcceptContext {
  readonly gatewayId: string;
  readonly singlePort: boolean;
  readonly handler: RequestHandler;
  readonly plan: SessionPlan;
  readonly counters: ServerCounters;
  readonly bus: SessionBus;
  readonly admission: Admission;
  readonly refusals: AdmissionRefusals;
  readonly table: SessionTable;
  readonly tids: TidSockets;
  readonly strangers: StrangerReplies;
  readonly log: Logger;
  isAccepting(): boolean;
}

/** An admitted request, with the listening socket it arrived on (replies before a session go out there). */
export interface Arrival {
  readonly entry: SessionEntry;
  readonly request: TftpRequest;
  readonly packet: RequestPacket;
  readonly via: { readonly socket: dgram.Socket; readonly local: Endpoint };
}
