/**
 * What the harness hands a handler: the request a client's RRQ or WRQ would become (defaults
 * filled in, the MAC parsed from the path, a write's body and declared tsize) and the env
 * bindings (a recording logger, a fresh in-memory env.kv) unless the test gives its own.
 */
import type { EnvBindings } from '../gateway/src/runtime/run-handler.js';
import type { Endpoint, FunctionEnv, FunctionLogger, FunctionRequest } from './contract.js';
import type { InvokeRequest, LogEntry } from './invoke-types.js';
import { kvBinding } from './kv-binding.js';
import { parseMac } from './mac.js';

let counter = 0;

/**
 * The full request for `given`, whose path the gateway has normalised already: peer
 * 192.0.2.10:1234, local 192.0.2.1:69, an octet read with no options unless given.
 */
export function harnessRequest(given: InvokeRequest, path: { normalized: string; raw: string }): FunctionRequest {
  return {
    id: given.id ?? `invoke-${++counter}`,
    kind: given.kind ?? 'read',
    path: path.normalized,
    rawPath: path.raw,
    mode: given.mode ?? 'octet',
    options: { ...given.options },
    peer: endpoint(given.peer, { address: '192.0.2.10', port: 1234 }),
    local: endpoint(given.local, { address: '192.0.2.1', port: 69 }),
    mac: 'mac' in given ? given.mac : parseMac(path.normalized),
    ...writeFields(given),
  };
}

/** The env a handler gets: the test's own bindings where given, else ones that record into `logs`. */
export function harnessBindings(env: Partial<FunctionEnv>, logs: LogEntry[]): EnvBindings {
  return {
    vars: env.vars ?? {},
    secrets: env.secrets ?? {},
    log: env.log ?? recordingLogger(logs),
    kv: env.kv ?? memoryKv(),
  };
}

/** A write's body (once iterable) and declared tsize (octet mode only, as the gateway does). */
function writeFields(given: InvokeRequest): { tsize?: number; body?: AsyncIterable<Uint8Array> } {
  if (given.kind !== 'write') return {};
  const declared = given.options?.tsize;
  const tsize = declared !== undefined && /^[0-9]{1,15}$/.test(declared) && (given.mode ?? 'octet') === 'octet' ? Number(declared) : undefined;
  const b = given.body;
  let body: AsyncIterable<Uint8Array> | undefined;
  if (typeof b === 'string') body = onceIterable(new TextEncoder().encode(b));
  else if (b instanceof Uint8Array) body = onceIterable(b);
  else body = b;
  return { ...(tsize !== undefined ? { tsize } : {}), ...(body ? { body } : {}) };
}

async function* onceIterable(bytes: Uint8Array): AsyncGenerator<Uint8Array> {
  if (bytes.byteLength > 0) yield bytes;
}

function endpoint(given: Partial<Endpoint> | undefined, fallback: { address: string; port: number }): Endpoint {
  const address = given?.address ?? fallback.address;
  return {
    address,
    port: given?.port ?? fallback.port,
    family: given?.family ?? (address.includes(':') ? 'IPv6' : 'IPv4'),
  };
}

function recordingLogger(logs: LogEntry[]): FunctionLogger {
  const at = (level: LogEntry['level']) =>
    ((objOrMsg: object | string, msg?: string) => {
      if (typeof objOrMsg === 'string') logs.push({ level, obj: undefined, msg: objOrMsg });
      else logs.push({ level, obj: objOrMsg, msg });
    }) as FunctionLogger['info'];
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

/** A fresh in-memory env.kv for one invocation; pass `env.kv` to share one between calls. */
function memoryKv() {
  const map = new Map<string, Uint8Array>();
  return kvBinding({
    get: async (k) => map.get(k),
    set: async (k, v) => void map.set(k, v),
    del: async (k) => void map.delete(k),
  });
}
