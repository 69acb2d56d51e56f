/** The TFTP client: used by `tftpfn bench`, the benchmark harness and the tests. */
export { get, resolveHost, type GetOptions, type GetResult } from './get.js';
export { put, type PutOptions, type PutResult } from './put.js';
export { ReadTransfer, type ReadTransferOptions } from './read-transfer.js';
export { WriteTransfer, type WriteTransferOptions } from './write-transfer.js';
export { TransferAbortedError, TransferTimeoutError } from './errors.js';
export type { TransferMachine, TransferStats, Transmit, TransferEvent } from './types.js';
export { runLoad, type LoadOptions, type LoadResult } from './load.js';
export { parseHostPort, type HostPort } from './host-port.js';
export { summarizeLatencies, percentile, type LatencySummary } from './latency-summary.js';
