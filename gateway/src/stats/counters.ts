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
  /** Requests repeated by a client while its session was already starting or running. */
  duplicateRequests: number;
  /** Datagrams from a stranger to a session's port, answered with ERROR 5. */
  strangerPackets: number;
  deniedClients: number;
  refusedBusy: number;
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
    duplicateRequests: 0,
    strangerPackets: 0,
    deniedClients: 0,
    refusedBusy: 0,
  };
}
