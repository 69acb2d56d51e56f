/**
 * The record every finished session emits: logged as one line, handed to stats callbacks,
 * and (with the stats issue) shipped to Redis. Field names are stable.
 */
import type { OptionMap } from '../protocol/packet.js';
import type { Endpoint, TftpRequest } from '../request/request.js';
import type { Outcome, SessionCounters } from '../session/types.js';

export interface SessionRecord {
  id: string;
  peer: Endpoint;
  local: Endpoint;
  file: string;
  fileNormalized: string | undefined;
  mode: string;
  kind: 'read' | 'write';
  optionsRequested: OptionMap;
  optionsAcked: OptionMap | null;
  blockSize: number;
  windowSize: number;
  tsize: number | undefined;
  bytes: number;
  blocks: number;
  packetsSent: number;
  retransmits: number;
  duplicates: number;
  durationMs: number;
  outcome: Outcome;
  errorCode: number | undefined;
  errorMessage: string | undefined;
  source: string | undefined;
}

export function buildRecord(args: {
  request: TftpRequest;
  oack: OptionMap | null;
  blockSize: number;
  windowSize: number;
  tsize: number | undefined;
  counters: SessionCounters;
  durationMs: number;
  outcome: Outcome;
  errorCode?: number;
  errorMessage?: string;
  source?: string;
}): SessionRecord {
  const { request: r, counters: c } = args;
  return {
    id: r.id,
    peer: r.peer,
    local: r.local,
    file: r.path.raw,
    fileNormalized: r.path.normalized || undefined,
    mode: r.mode,
    kind: r.kind,
    optionsRequested: r.options,
    optionsAcked: args.oack,
    blockSize: args.blockSize,
    windowSize: args.windowSize,
    tsize: args.tsize,
    bytes: c.bytes,
    blocks: c.blocks,
    packetsSent: c.packetsSent,
    retransmits: c.retransmits,
    duplicates: c.duplicates,
    durationMs: Math.round(args.durationMs * 1000) / 1000,
    outcome: args.outcome,
    errorCode: args.errorCode,
    errorMessage: args.errorMessage,
    source: args.source,
  };
}
