/**
 * tftpfn's public API for embedding and tests.
 */
import type { Logger } from 'pino';
import { parseConfig } from './config/load.js';
import type { GatewayConfig, GatewayConfigInput } from './config/schema.js';
import { createLogger } from './logging.js';
import type { Endpoint, RequestHandler } from './request/request.js';
import { folderHandler } from './sources/folder-handler.js';
import type { SessionRecord } from './stats/session-record.js';
import { Gateway } from './transport/gateway.js';

export interface StartOptions {
  /** Configuration fields (validated; errors name the field). */
  config?: GatewayConfigInput;
  /** Where bytes come from; by default the folder `config.root`. */
  handler?: RequestHandler;
  logger?: Logger;
  onSession?: (record: SessionRecord) => void;
}

export interface RunningGateway {
  readonly gateway: Gateway;
  readonly config: GatewayConfig;
  /** Every bound listening address. */
  readonly addresses: Endpoint[];
  /** The listening port (the real one when port 0 was asked). */
  readonly port: number;
  /** Graceful stop: sessions in flight get up to graceMs to finish. */
  close(graceMs?: number): Promise<void>;
}

export async function startGateway(opts: StartOptions = {}): Promise<RunningGateway> {
  const config = parseConfig({ ...(opts.config ?? {}) } as Record<string, unknown>);
  const logger = opts.logger ?? createLogger(config.logLevel);
  const handler =
    opts.handler ??
    folderHandler({
      root: config.root,
      writeRoot: config.writeRoot,
      allowOverwrite: config.allowOverwrite,
      readAheadBytes: config.readAheadBytes,
      fileCacheTtlMs: config.fileCacheTtlMs,
      fileCacheMaxFileBytes: config.fileCacheMaxFileBytes,
      fileCacheMaxBytes: config.fileCacheMaxBytes,
    });
  const gateway = new Gateway(config, handler, logger, { onSession: opts.onSession });
  const addresses = await gateway.start();
  return {
    gateway,
    config,
    addresses,
    port: addresses[0].port,
    close: (graceMs = config.shutdownGraceMs) => gateway.stop(graceMs),
  };
}

export { Gateway } from './transport/gateway.js';
export { loadConfig, parseConfig, ConfigError } from './config/load.js';
export type { GatewayConfig, GatewayConfigInput } from './config/schema.js';
export { TftpError, ErrorCode } from './protocol/error-codes.js';
export { folderHandler } from './sources/folder-handler.js';
export { memoryReader } from './sources/memory.js';
export type { RequestHandler, TftpRequest, Endpoint } from './request/request.js';
export type { ByteReader, ByteWriter, OpenedRead } from './sources/types.js';
export type { SessionRecord } from './stats/session-record.js';
export type { ServerCounters } from './stats/counters.js';
