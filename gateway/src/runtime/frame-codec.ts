/**
 * Length-prefixed frames on the pipe between the gateway and a sandboxed function process.
 *
 *    0      4                         4+length
 *   +------+---------------------------+
 *   |length|  payload (a message)       |     length: uint32, big-endian
 *   +------+---------------------------+
 *
 * Pure (bytes in, frames out), so it is tested without processes. The decoder refuses a frame
 * longer than its limit before buffering it: the other end is untrusted code, and a 4 GiB length
 * must not make the gateway allocate 4 GiB.
 */

export const FRAME_HEADER_BYTES = 4;

export class FrameTooLargeError extends Error {
  constructor(readonly bytes: number, readonly maxBytes: number) {
    super(`a frame of ${bytes} bytes exceeds the limit of ${maxBytes} bytes`);
    this.name = 'FrameTooLargeError';
  }
}

/** One frame: header and payload in one buffer, so it is one write. */
export function encodeFrame(payload: Uint8Array): Buffer {
  const frame = Buffer.allocUnsafe(FRAME_HEADER_BYTES + payload.byteLength);
  frame.writeUInt32BE(payload.byteLength, 0);
  frame.set(payload, FRAME_HEADER_BYTES);
  return frame;
}

/** Splits a byte stream into payloads. push() the bytes as they come, then drain next(). */
export class FrameDecoder {
  private chunks: Buffer[] = [];
  private buffered = 0;

  constructor(private readonly maxFrameBytes: number) {}

  /** Bytes received and not yet returned as frames. */
  get pendingBytes(): number {
    return this.buffered;
  }

  push(chunk: Buffer): void {
    if (chunk.byteLength === 0) return;
    this.chunks.push(chunk);
    this.buffered += chunk.byteLength;
  }

  /** The next whole payload, or undefined until more bytes arrive; throws FrameTooLargeError. */
  next(): Buffer | undefined {
    if (this.buffered < FRAME_HEADER_BYTES) return undefined;
    const head = this.peek(FRAME_HEADER_BYTES);
    const length = head.readUInt32BE(0);
    if (length > this.maxFrameBytes) throw new FrameTooLargeError(length, this.maxFrameBytes);
    if (this.buffered < FRAME_HEADER_BYTES + length) return undefined;
    this.take(FRAME_HEADER_BYTES);
    return this.take(length);
  }

  private peek(n: number): Buffer {
    if (this.chunks[0].byteLength >= n) return this.chunks[0];
    return Buffer.concat(this.chunks).subarray(0, n);
  }

  private take(n: number): Buffer {
    if (n === 0) return Buffer.alloc(0);
    const first = this.chunks[0];
    if (first.byteLength === n) {
      this.chunks.shift();
      this.buffered -= n;
      return first;
    }
    if (first.byteLength > n) {
      this.chunks[0] = first.subarray(n);
      this.buffered -= n;
      return first.subarray(0, n);
    }
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    while (filled < n) {
      const c = this.chunks[0];
      const want = n - filled;
      if (c.byteLength <= want) {
        out.set(c, filled);
        filled += c.byteLength;
        this.chunks.shift();
      } else {
        out.set(c.subarray(0, want), filled);
        this.chunks[0] = c.subarray(want);
        filled += want;
      }
    }
    this.buffered -= n;
    return out;
  }
}
