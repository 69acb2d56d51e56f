/**
 * tftpfn/sdk: what a function author imports. The contract (FunctionRequest, FunctionEnv,
 * Handler), the response helpers, MAC parsing, and the in-process harness `invoke`.
 */
export type { Endpoint, FunctionEnv, FunctionLogger, FunctionRequest, Handler, KvBinding, LogFn } from './contract.js';
export {
  accepted,
  bytes,
  denied,
  discard,
  error,
  file,
  isResponse,
  notFound,
  responseProblem,
  s3Object,
  s3Put,
  stream,
  text,
  type AcceptedResponse,
  type BytesResponse,
  type ErrorResponse,
  type FileResponse,
  type DiscardResponse,
  type ObjectResponse,
  type PutResponse,
  type Response,
  type StreamResponse,
  type TftpErrorCode,
} from './response.js';
export { macForms, parseMac, type MacForms } from './mac.js';
export { streamChunks } from './stream-chunks.js';
export { UploadAbortedError, type UploadAbortReason } from '../gateway/src/runtime/body-channel.js';
export { invoke, type InvokeOptions, type InvokeRequest, type InvokeResult, type LogEntry } from './invoke.js';
// setCacheBackend is the gateway's hook (worker and in-process hosts import it from cached.ts), not an author's API.
export { cached, type Cacheable } from './cached.js';
export { kvBinding, type RawKv } from './kv-binding.js';
