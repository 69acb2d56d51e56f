/**
 * The record every finished session emits: logged as one line, handed to stats callbacks,
 * shipped to Redis (stats/redis-sink.ts) and counted in the metrics. Field names are stable.
 */
import type { OptionMap } from '../protocol/packet.js';
import type { Endpoint, SessionTags, TftpRequest } from '../handlers/request.js';
import type { Outcome, SessionCounters } from '../session/types.js';

export interface SessionRecord {
  id: string;
  /** The gateway that served it (config gatewayId, default HOSTNAME-PID). */
  gateway: string;
  /** When the session ended, ISO 8601. */
  endedAt: string;
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
  /** The function that served the request and the version it started on (undefined for folders). */
  function: string | undefined;
  version: string | undefined;
  /** Which route matched: its index in `routes`, 'default' or 'remap'; undefined without routing. */
  route: string | undefined;
  /** Objects from a bucket: served from a cache (true) or fetched from the bucket (false). */
  cacheHit: boolean | undefined;
  /** Uploads into a bucket (s3Put, issue 15): BUCKET/KEY; `bytes` is what was received. Absent otherwise. */
  objectKey?: string;
}

/** What negotiation settled; absent for a request refused before negotiating. */
export interface NegotiatedSummary {
  oack: OptionMap | null;
  blockSize: number;
  windowSize: number;
  tsize: number | undefined;
}

const NOT_NEGOTIATED: NegotiatedSummary = { oack: null, blockSize: 512, windowSize: 1, tsize: undefined };

/** The outcome of a request refused with this ERROR code before any session started. */
export function buildRecord(args: {
  request: TftpRequest;
  negotiated: NegotiatedSummary | undefined;
  counters: SessionCounters;
  durationMs: number;
  outcome: Outcome;
  errorCode?: number;
  errorMessage?: string;
  tags?: SessionTags;
  gateway?: string;
}): SessionRecord {
  const { request: r, counters: c } = args;
  const n = args.negotiated ?? NOT_NEGOTIATED;
  return {
    id: r.id,
    gateway: args.gateway ?? '',
    endedAt: new Date().toISOString(),
    peer: r.peer,
    local: r.local,
    file: r.path.raw,
    fileNormalized: args.tags?.remappedPath ?? (r.path.normalized || undefined),
    mode: r.mode,
    kind: r.kind,
    optionsRequested: r.options,
    optionsAcked: n.oack,
    blockSize: n.blockSize,
    windowSize: n.windowSize,
    tsize: n.tsize,
    bytes: c.bytes,
    blocks: c.blocks,
    packetsSent: c.packetsSent,
    retransmits: c.retransmits,
    duplicates: c.duplicates,
    durationMs: Math.round(args.durationMs * 1000) / 1000,
    outcome: args.outcome,
    errorCode: args.errorCode,
    errorMessage: args.errorMessage,
    source: args.tags?.source,
    function: args.tags?.function,
    version: args.tags?.version,
    route: args.tags?.route,
    cacheHit: args.tags?.cacheHit,
    ...(args.tags?.objectKey !== undefined ? { objectKey: args.tags.objectKey } : {}),
  };
}
