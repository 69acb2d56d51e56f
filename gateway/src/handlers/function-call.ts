/**
 * Calling one named function for a request: pin the version that serves it, hand the function
 * its view of the request, and turn an error() answer into the TftpError it asked for. Shared
 * by the read path (function.ts) and the write path (function-write.ts).
 *
 * A version is held from invocation until the session is done with it, so a hot reload
 * never pulls a worker out from under a transfer; every path that gives up on the request
 * releases it.
 */
import type { FunctionRequest } from '../../../sdk/contract.js';
import { parseMac } from '../../../sdk/mac.js';
import { ErrorCode, TftpError } from '../protocol/error-codes.js';
import type { SessionTags, TftpRequest } from './request.js';
import { functionFailed } from '../runtime/function-failure.js';
import type { FunctionResult, Invoker } from '../runtime/invoker.js';

/** The version a request runs on, pinned until `release` is called. */
export interface PinnedVersion {
  readonly version: string;
  readonly invoker: Invoker;
  release(): void;
}

/** The declared upload size (RFC 2349 tsize in a WRQ), when it is exact: octet mode only. */
export function declaredTsize(request: TftpRequest): number | undefined {
  const t = request.options.tsize;
  if (request.kind !== 'write' || request.mode !== 'octet' || t === undefined || !/^[0-9]{1,15}$/.test(t)) return undefined;
  return Number(t);
}

export function toFunctionRequest(request: TftpRequest): FunctionRequest {
  return {
    id: request.id,
    kind: request.kind,
    path: request.path.normalized,
    rawPath: request.path.raw,
    mode: request.mode,
    options: { ...request.options },
    peer: { ...request.peer },
    local: { ...request.local },
    mac: parseMac(request.path.normalized),
    ...(declaredTsize(request) !== undefined ? { tsize: declaredTsize(request) } : {}),
  };
}

export function refusal(result: Extract<FunctionResult, { kind: 'error' }>): TftpError {
  return new TftpError(result.code as ErrorCode, result.message);
}

/** Pins and invokes one named function's current version. */
export interface FunctionCaller {
  /** Pins the version that serves this request, and names it in the record. */
  pinFor(request: TftpRequest, tags: SessionTags): PinnedVersion;
  /** Invokes the pinned version (pinning one when none is given); on a rejection it is released. */
  invoke(request: TftpRequest, tags: SessionTags, withBody?: boolean, pinned?: PinnedVersion): Promise<{ result: FunctionResult; pinned: PinnedVersion }>;
}

export function functionCaller(name: string, pin: (request: TftpRequest) => PinnedVersion | undefined): FunctionCaller {
  function pinFor(request: TftpRequest, tags: SessionTags): PinnedVersion {
    tags.function = name;
    const pinned = pin(request);
    if (!pinned) throw functionFailed('unavailable', `function "${name}" has no version loaded`);
    tags.version = pinned.version;
    return pinned;
  }

  async function invoke(request: TftpRequest, tags: SessionTags, withBody = false, pinned = pinFor(request, tags)): Promise<{ result: FunctionResult; pinned: PinnedVersion }> {
    try {
      return { result: await pinned.invoker.invoke(toFunctionRequest(request), withBody ? { body: true } : undefined), pinned };
    } catch (e) {
      pinned.release();
      throw e;
    }
  }

  return { pinFor, invoke };
}
