/**
 * `get`: download one file over TFTP (RRQ). Collects into a Buffer, writes into a sink, or only
 * counts bytes when discarding (the benchmark's load-generator mode).
 *
 * @example
 *   const { data } = await get({ host: '127.0.0.1', port: 6969, path: 'pxelinux.0', blksize: 1468 });
 */
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { OptionMap } from '../gateway/src/protocol/packet.js';
import { NetasciiDecoder } from '../gateway/src/protocol/netascii.js';
import { ReadTransfer } from './read-transfer.js';
import { runTransfer } from './udp-driver.js';
import type { MachineOptions, TransferOptions, TransferStats } from './types.js';

export interface GetOptions extends TransferOptions {
  /** Ask for the size (tsize=0); the answer is in `oack.tsize`. */
  tsize?: boolean;
  /** Called with the running byte count after every in-order block, and the OACK if any (its tsize is the total). */
  onProgress?: (bytes: number, oack: OptionMap | null) => void;
  /** Receives the file chunk by chunk instead of collecting it. */
  sink?: { write(chunk: Uint8Array): unknown };
  /** Count bytes only: no data kept, no copies (load testing). */
  discard?: boolean;
  /** Load testing: wait this long after block 1 before ACKing it, to keep a session open. */
  holdAfterFirstBlockMs?: number;
  onHolding?: () => void;
}

export interface GetResult extends TransferStats {
  /** The file, when neither `sink` nor `discard` was given. */
  data?: Buffer;
  durationMs: number;
}

export const DEFAULT_PORT = 69;
export const DEFAULT_TIMEOUT_MS = 1000;
export const DEFAULT_RETRIES = 5;

/** Resolves a name once; literals pass through. The machine compares reply addresses to it. */
export async function resolveHost(host: string): Promise<string> {
  const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  if (isIP(bare)) return bare;
  return (await lookup(bare)).address;
}

/** The machine options a get or put asks for, from what its caller gave (defaults applied). */
export function machineOptions(opts: TransferOptions & { tsize?: boolean }, serverAddress: string): MachineOptions {
  return {
    serverAddress,
    serverPort: opts.port ?? DEFAULT_PORT,
    filename: opts.path,
    mode: opts.mode,
    blockSize: opts.blksize,
    windowSize: opts.windowsize,
    tsize: opts.tsize,
    timeoutSeconds: opts.timeoutSeconds,
    timeoutMs: opts.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    retries: opts.retries ?? DEFAULT_RETRIES,
  };
}

export async function get(opts: GetOptions): Promise<GetResult> {
  const startMs = performance.now();
  const address = await resolveHost(opts.host);
  const chunks: Uint8Array[] = [];
  const collecting = !opts.discard && opts.sink === undefined;
  let deliver: ((chunk: Uint8Array) => void) | undefined;
  if (!opts.discard) {
    const out = opts.sink ? (c: Uint8Array) => void opts.sink!.write(c) : (c: Uint8Array) => void chunks.push(c);
    if (opts.mode === 'netascii') {
      const decoder = new NetasciiDecoder();
      deliver = (c) => out(decoder.decode(c));
    } else {
      deliver = out;
    }
  }
  let onData = deliver;
  if (opts.onProgress) {
    const progress = opts.onProgress;
    onData = (c) => {
      deliver?.(c);
      progress(machine.bytes, machine.oack);
    };
  }
  const machine: ReadTransfer = new ReadTransfer({
    ...machineOptions(opts, address),
    onData,
    holdAfterFirstBlockMs: opts.holdAfterFirstBlockMs,
  });
  const windowBytes = (opts.windowsize ?? 1) * ((opts.blksize ?? 512) + 4);
  await runTransfer(machine, {
    host: address,
    localAddress: opts.localAddress,
    signal: opts.signal,
    // The kernel charges a datagram its buffer truesize (often 2x its length): leave room.
    recvBufferBytes: windowBytes > 16_384 ? Math.min(Math.max(4 * windowBytes, 1 << 20), 4 << 20) : undefined,
    onHolding: opts.onHolding,
  });
  const stats = machine.stats();
  return {
    ...stats,
    data: collecting ? Buffer.concat(chunks) : undefined,
    durationMs: performance.now() - startMs,
  };
}
