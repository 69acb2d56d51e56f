/**
 * `put`: upload one buffer over TFTP (WRQ), lock-step or windowed (RFC 7440).
 *
 * @example
 *   await put({ host: '::1', port: 6969, path: 'upload.bin', data: Buffer.from('hi') });
 */
import { performance } from 'node:perf_hooks';
import { NetasciiEncoder } from '../gateway/src/protocol/netascii.js';
import { machineOptions, resolveHost } from './get.js';
import { WriteTransfer } from './write-transfer.js';
import { runTransfer } from './udp-driver.js';
import type { TransferOptions, TransferStats } from './types.js';

export interface PutOptions extends TransferOptions {
  data: Uint8Array;
  /** Announce the size (RFC 2349 tsize). */
  tsize?: boolean;
}

export interface PutResult extends TransferStats {
  durationMs: number;
}

export async function put(opts: PutOptions): Promise<PutResult> {
  const startMs = performance.now();
  const address = await resolveHost(opts.host);
  const data = opts.mode === 'netascii' ? new NetasciiEncoder().encode(opts.data) : opts.data;
  const machine = new WriteTransfer({ ...machineOptions(opts, address), data });
  await runTransfer(machine, { host: address, localAddress: opts.localAddress, signal: opts.signal });
  return { ...machine.stats(), durationMs: performance.now() - startMs };
}
