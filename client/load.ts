/**
 * A closed-loop load generator: `concurrency` workers, each running one `get` after another,
 * until `count` requests have been issued or `durationS` has passed. Used by `tftpfn bench`.
 *
 * Data is discarded (bytes counted only) so the generator costs as little as it can.
 */
import { performance } from 'node:perf_hooks';
import { machineOptions, resolveHost } from './get.js';
import { summarizeLatencies, type LatencySummary } from './latency-summary.js';
import { ReadTransfer } from './read-transfer.js';
import { runTransfer } from './udp-driver.js';

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
  /**
   * RRQs sent again because the client's timeout passed with no reply at all (neither OACK nor
   * DATA nor ERROR): requests the server ignored or lost. Failed transfers included.
   */
  rrqRetransmits: number;
  /** Transfers whose RRQ had to be sent more than once. */
  rrqRetriedRequests: number;
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

/**
 * A read transfer that counts how often it sent its request: every send after the first is an
 * RRQ retransmission (the machine resends `request` only on a timeout in the requesting phase).
 */
class RequestCountingTransfer extends ReadTransfer {
  requestSends = 0;
  protected override send(bytes: Uint8Array): void {
    if (bytes === this.request) this.requestSends++;
    super.send(bytes);
  }
}

/** `get` with `discard: true`, on a machine that counts its RRQs. */
async function discardGet(opts: LoadOptions, address: string, onHolding: (() => void) | undefined) {
  const machine = new RequestCountingTransfer({
    ...machineOptions({ host: opts.host, port: opts.port, path: opts.path, blksize: opts.blksize, windowsize: opts.windowsize, timeoutMs: opts.timeoutMs, retries: opts.retries, timeoutSeconds: opts.timeoutSeconds }, address),
    holdAfterFirstBlockMs: opts.holdAfterFirstBlockMs,
  });
  // As get(): the kernel charges a datagram its buffer truesize (often 2x its length).
  const windowBytes = (opts.windowsize ?? 1) * ((opts.blksize ?? 512) + 4);
  try {
    await runTransfer(machine, {
      host: address,
      recvBufferBytes: windowBytes > 16_384 ? Math.min(Math.max(4 * windowBytes, 1 << 20), 4 << 20) : undefined,
      onHolding,
    });
    return { stats: machine.stats(), rrqRetransmits: Math.max(0, machine.requestSends - 1) };
  } catch (e) {
    throw Object.assign(e as Error, { rrqRetransmits: Math.max(0, machine.requestSends - 1) });
  }
}

export async function runLoad(opts: LoadOptions): Promise<LoadResult> {
  if (opts.count === undefined && opts.durationS === undefined) throw new Error('runLoad needs count or durationS');
  const address = await resolveHost(opts.host);
  const latenciesMs: number[] = [];
  const failuresByCode: Record<string, number> = {};
  let issued = 0;
  let failures = 0;
  let bytes = 0;
  let retransmits = 0;
  let rrqRetransmits = 0;
  let rrqRetriedRequests = 0;
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
        const { stats: r, rrqRetransmits: rrq } = await discardGet(opts, address, onHolding);
        latenciesMs.push(performance.now() - t0);
        bytes += r.bytes;
        retransmits += r.retransmits;
        rrqRetransmits += rrq;
        if (rrq > 0) rrqRetriedRequests++;
        negotiated ??= { blockSize: r.blockSize, windowSize: r.windowSize, oack: r.oack };
      } catch (e) {
        failures++;
        const rrq = (e as { rrqRetransmits?: number }).rrqRetransmits ?? 0;
        rrqRetransmits += rrq;
        if (rrq > 0) rrqRetriedRequests++;
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
    rrqRetransmits,
    rrqRetriedRequests,
    elapsedMs,
    clientCpuSeconds: (cpu.user + cpu.system) / 1e6,
    throughputMiBps: bytes / (1 << 20) / (elapsedMs / 1000),
    requestsPerSec: latenciesMs.length / (elapsedMs / 1000),
    latency: summarizeLatencies(latenciesMs),
    negotiated,
  };
}
