/** Server-wide counters, exported to stats callbacks and to the Prometheus metrics. */
export interface ServerCounters {
  sessionsStarted: number;
  sessionsActive: number;
  sessionsByOutcome: Record<string, number>;
  bytesSent: number;
  bytesReceived: number;
  retransmits: number;
  /** Datagrams that did not decode. */
  malformedPackets: number;
  /** Bugs of the gateway itself caught at the transport or accept step (each cost one datagram or one session). */
  internalErrors: number;
  /** Requests repeated by a client while its session was already starting or running. */
  duplicateRequests: number;
  /** Datagrams from a stranger to a session's port, answered with ERROR 5. */
  strangerPackets: number;
  /** ERROR 5 replies to strangers not sent because the global reply rate was exceeded (reflection bound). */
  strangerRepliesSuppressed: number;
  deniedClients: number;
  /** Requests refused for want of room (sessions, per-client, per-prefix, buffer budget): ERROR 0. */
  refusedBusy: number;
  /** Requests dropped silently by a rate limit (per client, per prefix, global). */
  refusedRateLimited: number;
  /** Every admission refusal by the rule that made it (admission.ts RefusalLimit). */
  refusalsByLimit: Record<string, number>;
  /** Refusals counted but not logged or recorded (sampling), by reason. */
  refusalLogsSuppressed: Record<string, number>;
  /** Bytes of window and read-ahead buffers reserved by sessions now, and the most ever. */
  bufferBytesReserved: number;
  bufferBytesReservedPeak: number;
}

export function newServerCounters(): ServerCounters {
  return {
    sessionsStarted: 0,
    sessionsActive: 0,
    sessionsByOutcome: {},
    bytesSent: 0,
    bytesReceived: 0,
    retransmits: 0,
    malformedPackets: 0,
    internalErrors: 0,
    duplicateRequests: 0,
    strangerPackets: 0,
    strangerRepliesSuppressed: 0,
    deniedClients: 0,
    refusedBusy: 0,
    refusedRateLimited: 0,
    refusalsByLimit: {},
    refusalLogsSuppressed: {},
    bufferBytesReserved: 0,
    bufferBytesReservedPeak: 0,
  };
}
