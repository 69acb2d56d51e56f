/**
 * One way to read a stream response's body, whichever kind the author handed to stream():
 * the runtime (in the worker) and the harness both use it, so both reject the same bad chunks.
 */
import type { StreamResponse } from './response.js';

/**
 * Iterates a stream response's body as Uint8Array chunks, from an async iterable or a web
 * ReadableStream alike; throws a TypeError naming the chunk when one is not a Uint8Array.
 * Empty chunks are skipped.
 *
 * @example
 * ```ts
 * import { stream, streamChunks } from 'tftpfn/sdk';
 *
 * const response = stream(ReadableStream.from([new Uint8Array([1, 2])]));
 * for await (const chunk of streamChunks(response.body)) console.log(chunk.byteLength); // 2
 * ```
 */
export async function* streamChunks(body: StreamResponse['body']): AsyncGenerator<Uint8Array, void, undefined> {
  let index = 0;
  const check = (chunk: unknown): Uint8Array => {
    if (!(chunk instanceof Uint8Array)) {
      const what = typeof chunk === 'string' ? 'a string (encode it with TextEncoder)' : chunk === null ? 'null' : typeof chunk === 'object' ? chunk.constructor?.name ?? 'an object' : typeof chunk;
      throw new TypeError(`stream chunk ${index} is ${what}; a stream must yield Uint8Array chunks`);
    }
    index++;
    return chunk;
  };
  if (typeof (body as Partial<ReadableStream>).getReader === 'function' && !(Symbol.asyncIterator in body)) {
    const reader = (body as ReadableStream<Uint8Array>).getReader();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return;
        const chunk = check(value);
        if (chunk.byteLength > 0) yield chunk;
      }
    } finally {
      reader.releaseLock();
    }
  }
  for await (const value of body as AsyncIterable<unknown>) {
    const chunk = check(value);
    if (chunk.byteLength > 0) yield chunk;
  }
}
