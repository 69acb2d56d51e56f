/**
 * A closed-loop load generator: `concurrency` workers, each running one `get` after another,
 * until `count` requests have been issued or `durationS` has passed. Used by `tftpfn bench`.
 *
 * Data is discarded (bytes counted only) so the generator costs as little as it can.
 */
import { performance } from 'node:perf_hooks';
import { get } from './get.js';
import { summarizeLatencies, type LatencySummary } from './latency-summary.js';

export interface LoadOptions {
  host: string;
  port: number;
  path: string;
  concurrency: number;
  /** Stop after this many requests in total. */
  count?: number;
  /** Stop issuing new requests after this many seconds (the ones running finish). */
  durationS?: number;
  blksize?: number;
  windowsize?: number;
  timeoutMs?: number;
  retries?: number;
  timeoutSeconds?: number;
  holdAfterFirstBlockMs?: number;
  /** Called once when every worker's first transfer is holding after block 1. */
  onAllHolding?: (count: number) => void;
}

export interface LoadResult {
  requests: number;
  failures: number;
  /** Failure counts by stable error code (TFTP_FILE_NOT_FOUND, TFTP_CLIENT_TIMEOUT, ...). */
  failuresByCode: Record<string, number>;
  bytes: number;
  retransmits: number;
  elapsedMs: number;
  /** CPU the load generator itself used (user + system), to tell a client-bound run. */
  clientCpuSeconds: number;
  throughputMiBps: number;
  requestsPerSec: number;
  /** Completed requests only. */
  latency: LatencySummary;
  /** What the server agreed to on the first successful transfer. */
  negotiated: { blockSize: number; windowSize: number; oack: Record<string, string> | null } | undefined;
}

export async function runLoad(opts: LoadOptions): Promise<LoadResult> {
  if (opts.count === undefined && opts.durationS === undefined) throw new Error('runLoad needs count or durationS');
  const latenciesMs: number[] = [];
  const failuresByCode: Record<string, number> = {};
  let issued = 0;
  let failures = 0;
  let bytes = 0;
  let retransmits = 0;
  let holding = 0;
  let negotiated: LoadResult['negotiated'];
  const startMs = performance.now();
  const cpuStart = process.cpuUsage();
  const endMs = opts.durationS === undefined ? Infinity : startMs + opts.durationS * 1000;
  const limit = opts.count ?? Infinity;
  const onHolding = opts.onAllHolding
    ? () => {
        if (++holding === opts.concurrency) opts.onAllHolding!(holding);
      }
    : undefined;

  const worker = async (): Promise<void> => {
    while (issued < limit && performance.now() < endMs) {
      issued++;
      const t0 = performance.now();
      try {
        const r = await get({
          host: opts.host,
          port: opts.port,
          path: opts.path,
          blksize: opts.blksize,
          windowsize: opts.windowsize,
          timeoutMs: opts.timeoutMs,
          retries: opts.retries,
          timeoutSeconds: opts.timeoutSeconds,
          holdAfterFirstBlockMs: opts.holdAfterFirstBlockMs,
          onHolding,
          discard: true,
        });
        latenciesMs.push(performance.now() - t0);
        bytes += r.bytes;
        retransmits += r.retransmits;
        negotiated ??= { blockSize: r.blockSize, windowSize: r.windowSize, oack: r.oack };
      } catch (e) {
        failures++;
        const code = (e as { code?: unknown }).code;
        const key = typeof code === 'string' ? code : (e as Error).name ?? 'Error';
        failuresByCode[key] = (failuresByCode[key] ?? 0) + 1;
      }
    }
  };

  const workers = Math.max(1, Math.min(opts.concurrency, limit));
  await Promise.all(Array.from({ length: workers }, worker));
  const elapsedMs = performance.now() - startMs;
  const cpu = process.cpuUsage(cpuStart);
  return {
    requests: latenciesMs.length,
    failures,
    failuresByCode,
    bytes,
    retransmits,
    elapsedMs,
    clientCpuSeconds: (cpu.user + cpu.system) / 1e6,
    throughputMiBps: bytes / (1 << 20) / (elapsedMs / 1000),
    requestsPerSec: latenciesMs.length / (elapsedMs / 1000),
    latency: summarizeLatencies(latenciesMs),
    negotiated,
  };
}
