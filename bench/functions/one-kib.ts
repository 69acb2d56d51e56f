/**
 * Benchmark (g): answers every read with the same 1 KiB, built once at load, so an invocation
 * costs only the runtime's own work (message to the worker, the call, the body's transfer back)
 * and can be compared with the folder source serving identical bytes from its hot-file cache.
 */
import { bytes, denied, type Handler } from 'tftpfn/sdk';

export const ONE_KIB_BYTES = 1024;

/**
 * The body: byte i is i mod 251 (a prime, so the pattern does not line up with blocks). The
 * harness writes the same bytes to a file for the folder side of the comparison.
 */
export function oneKib(): Uint8Array {
  const body = new Uint8Array(ONE_KIB_BYTES);
  for (let i = 0; i < body.length; i++) body[i] = i % 251;
  return body;
}

const body = oneKib();

export const handle: Handler = (request) => (request.kind === 'write' ? denied() : bytes(body));
