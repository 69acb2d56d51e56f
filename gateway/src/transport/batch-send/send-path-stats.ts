/**
 * Which send path DATA windows take, and how often each was used: process-wide, as the thing
 * it describes is (the kernel's UDP_SEGMENT, the koffi binary, the NIC's offload). Read by the
 * metrics (`tftpfn_send_path_info{path}`, `tftpfn_gso_*_total`) at scrape time; the send path
 * only increments numbers here.
 */
export type SendPath = 'gso' | 'plain';

export interface SendPathStats {
  /** The path windows take now ('plain' until detection finishes, and after a global fallback). */
  path: SendPath;
  /** Why the path is plain (config, platform, missing koffi, a failed probe, EIO), for logs and docs. */
  reason: string;
  /** GSO sendmsg calls that succeeded. */
  gsoSends: number;
  /** Datagrams those calls carried. */
  gsoSegments: number;
  /** Datagrams sent one by one through dgram (single blocks, short last blocks, the plain path). */
  plainDatagrams: number;
  /** GSO sends that failed and went out through dgram instead (each also counted by errno). */
  fallbacks: number;
  /** Those failures by errno name (EAGAIN, EIO, EINVAL...). */
  fallbacksByCode: Record<string, number>;
}

export const SEND_PATH_STATS: SendPathStats = {
  path: 'plain',
  reason: 'not started',
  gsoSends: 0,
  gsoSegments: 0,
  plainDatagrams: 0,
  fallbacks: 0,
  fallbacksByCode: {},
};

export function sendPathSnapshot(): Readonly<SendPathStats> {
  return { ...SEND_PATH_STATS, fallbacksByCode: { ...SEND_PATH_STATS.fallbacksByCode } };
}
