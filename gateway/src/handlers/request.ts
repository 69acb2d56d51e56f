/**
 * What a handler sees of one TFTP request, and the seam it plugs into the gateway by.
 */
import type { ByteWriter, OpenedRead } from '../sources/types.js';
import type { TftpRequest } from '../transport/tftp-request.js';

// The request and its two ends are the transport's (it reads them off the socket); named here
// too because they are half of the handler contract.
export type { Endpoint } from '../transport/endpoint.js';
export type { TftpRequest } from '../transport/tftp-request.js';

/**
 * What a handler says about how it served (or refused) a request, for the session's stats
 * record. Handlers fill it in as they go, so a refusal still names the function and version
 * that refused.
 */
export interface SessionTags {
  /** The function that ran, and the version it ran at. */
  function?: string;
  version?: string;
  /** The route that matched: its index in `routes`, 'default', or 'remap'. */
  route?: string;
  /** The normalised path after remap rules rewrote it (the record's fileNormalized). */
  remappedPath?: string;
  /** Where the bytes came from when the handler knows before opening: 'folder', 'generated'... */
  source?: string;
  /** For objects from a bucket: whether the first chunk came from a cache rather than the bucket. */
  cacheHit?: boolean;
  /** For uploads into a bucket (s3Put): BUCKET/KEY written. */
  objectKey?: string;
}

/**
 * Decides where the bytes of a request come from (or go to). Throw a TftpError to refuse:
 * its code and text go on the wire; anything else becomes ERROR 0 with a generic text.
 */
export interface RequestHandler {
  /**
   * True when the handler rewrites the raw filename before using it (tftp-hpa remap rules):
   * the gateway then hands it requests whose raw name does not normalise (a backslash, say)
   * instead of refusing them, marked with `path.invalid`, as in.tftpd applies -m rules first.
   */
  readonly rewritesRawPath?: boolean;
  /**
   * May answer at once (a file the hot-file cache holds): the session then starts in the tick
   * its request arrived in, without a promise (accept/open-session.ts).
   */
  openRead(request: TftpRequest, tags: SessionTags): OpenedRead | Promise<OpenedRead>;
  /** Absent when uploads are disabled: WRQ is then refused with ERROR 2. */
  openWrite?(request: TftpRequest, tags: SessionTags): Promise<ByteWriter>;
}
