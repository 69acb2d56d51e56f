/** A complete SessionRecord for unit tests: an ok 1000-byte folder read; `over` replaces fields. */
import type { SessionRecord } from '../../gateway/src/stats/session-record.js';

export function sessionRecord(over: Partial<SessionRecord> = {}): SessionRecord {
  return {
    id: 'x',
    gateway: 'gw-a',
    endedAt: new Date(0).toISOString(),
    peer: { address: '127.0.0.1', port: 40000, family: 'IPv4' },
    local: { address: '127.0.0.1', port: 69, family: 'IPv4' },
    file: 'a',
    fileNormalized: 'a',
    mode: 'octet',
    kind: 'read',
    optionsRequested: {},
    optionsAcked: null,
    blockSize: 512,
    windowSize: 1,
    tsize: undefined,
    bytes: 1000,
    blocks: 2,
    packetsSent: 2,
    retransmits: 0,
    duplicates: 0,
    durationMs: 3,
    outcome: 'ok',
    errorCode: undefined,
    errorMessage: undefined,
    source: 'folder',
    function: undefined,
    version: undefined,
    route: undefined,
    cacheHit: undefined,
    ...over,
  };
}
