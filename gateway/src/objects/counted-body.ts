/**
 * An upload body that reports its progress as the HTTP request consumes it (`tftpfn deploy`'s
 * upload line, issue 12). Given a Uint8Array the AWS SDK writes the whole body in one call and
 * nothing can be said until S3 answers; given this stream it pipes it into the request, which
 * pulls the next chunk only once the socket has taken the previous ones (backpressure). So when
 * `read()` is asked for more, every byte pushed before has been consumed, and that count is the
 * progress: it lags the wire by at most the request's and the socket's buffers, never leads it.
 *
 * With ContentLength set the SDK sends the length as given and streams the body (no
 * aws-chunked encoding, since the store asks for checksums only when an operation requires
 * them); its one attempt (`maxAttempts: 1`) means the stream is never read twice.
 */
import { Readable } from 'node:stream';

/** One push: small enough that a bundle of a few MiB reports dozens of steps. */
export const PROGRESS_CHUNK_BYTES = 64 * 1024;

/**
 * A stream over `bytes` that calls `onConsumed(n)` each time the reader asks for more, with
 * `n` the bytes it has taken so far (0 first, bytes.length last).
 */
export function countedBody(bytes: Uint8Array, onConsumed: (consumedBytes: number) => void, chunkBytes = PROGRESS_CHUNK_BYTES): Readable {
  let offset = 0;
  return new Readable({
    // One chunk buffered ahead: what read() reports is what the request has taken.
    highWaterMark: chunkBytes,
    read() {
      onConsumed(offset);
      if (offset >= bytes.length) {
        this.push(null);
        return;
      }
      const end = Math.min(bytes.length, offset + chunkBytes);
      this.push(bytes.subarray(offset, end));
      offset = end;
    },
  });
}

/**
 * The consumed counts of one upload (its parts' counts offset by their start) as onProgress
 * hears them: each once, rising, and never the total, which the store reports once S3 has
 * answered rather than when the last byte left.
 */
export function consumedProgress(totalBytes: number, onProgress: (sentBytes: number, totalBytes: number) => void): (consumedBytes: number) => void {
  let reportedBytes = -1;
  return (n) => {
    if (n >= totalBytes || n <= reportedBytes) return;
    reportedBytes = n;
    onProgress(n, totalBytes);
  };
}
