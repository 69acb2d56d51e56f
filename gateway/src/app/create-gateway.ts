/**
 * createGateway: the embedding form (a handle function and config fields in one object, as
 * fbtftp's BaseServer is embedded), translated to startGateway's options.
 */
import type { Logger } from 'pino';
import type { Handler } from '../../../sdk/contract.js';
import type { GatewayConfigInput } from '../config/schema.js';
import { startGateway, type RunningGateway, type StartOptions } from './start-gateway.js';

/**
 * The embedding options: config fields, plus `handle` — a function run on the gateway's
 * thread, or the path of a function module bundled and run in worker threads (isolated,
 * with the limits in `functions.main`).
 */
export type CreateGatewayOptions = GatewayConfigInput & {
  handle?: Handler | string;
  logger?: Logger;
  onSession?: StartOptions['onSession'];
  onServerStats?: StartOptions['onServerStats'];
  serverStatsIntervalMs?: number;
  onReload?: StartOptions['onReload'];
};

/**
 * Runs a gateway inside any Node program.
 *
 * @example
 * ```ts
 * import { createGateway } from 'tftpfn';
 * import { text } from 'tftpfn/sdk';
 *
 * const gw = await createGateway({
 *   port: 6969,
 *   handle: (request) => text(`hello ${request.peer.address}\n`),
 *   onSession: (record) => console.log(record.file, record.outcome, record.bytes),
 * });
 * // later: await gw.close();
 * ```
 */
export function createGateway(opts: CreateGatewayOptions): Promise<RunningGateway> {
  const { handle, logger, onSession, onServerStats, serverStatsIntervalMs, onReload, ...config } = opts;
  const start: StartOptions = { config, logger, onSession, onServerStats, serverStatsIntervalMs, onReload };
  if (typeof handle === 'function') {
    start.functions = { main: handle };
  } else if (typeof handle === 'string') {
    const main = (config.functions as Record<string, object> | undefined)?.main ?? {};
    start.config = { ...config, functions: { ...(config.functions ?? {}), main: { ...main, entry: handle } } };
    if (!config.routes?.length && !config.defaultRoute) start.config.defaultRoute = { function: 'main' };
  }
  return startGateway(start);
}
