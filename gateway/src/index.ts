/**
 * tftpfn's public API for embedding and tests: startGateway (config-driven, as `tftpfn
 * serve` runs it) and createGateway (a handle function and config fields in one object, as
 * fbtftp's BaseServer is embedded); the config, handler, record and stats types; TftpError.
 * The wiring is in app/; internal classes appear here as types only (what RunningGateway
 * holds), never as values to construct.
 */
export { startGateway, type StartOptions, type RunningGateway } from './app/start-gateway.js';
export { createGateway, type CreateGatewayOptions } from './app/create-gateway.js';
export { loadConfig, parseConfig, ConfigError } from './config/load.js';
export type { GatewayConfig, GatewayConfigInput, FunctionConfig } from './config/schema.js';
export { TftpError, ErrorCode } from './protocol/error-codes.js';
export { folderHandler } from './handlers/folder.js';
export { memoryReader } from './sources/memory.js';
export type { RequestHandler, TftpRequest, Endpoint, SessionTags } from './handlers/request.js';
export type { ByteReader, ByteWriter, OpenedRead } from './sources/types.js';
export type { SessionRecord } from './stats/session-record.js';
export type { ServerCounters } from './stats/counters.js';
export type { ServerStats } from './stats/server-stats.js';
export type { Readiness } from './stats/http-server.js';
export type { Gateway } from './app/gateway.js';
export type { FunctionRuntime, FunctionStatus, ReloadEvent } from './runtime/function-runtime.js';
export type { ObjectSetup } from './objects/object-setup.js';
export type { Handler, FunctionRequest, FunctionEnv } from '../../sdk/contract.js';
