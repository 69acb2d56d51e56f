/**
 * Netascii translation (RFC 1350, RFC 764), streamed: state carries across chunk boundaries,
 * so a file is never buffered whole.
 *
 * Sending:   LF -> CR LF,  CR -> CR NUL.
 * Receiving: CR LF -> LF,  CR NUL -> CR (a CR split across chunks waits for the next byte).
 */
const CR = 0x0d;
const LF = 0x0a;
const NUL = 0x00;

export class NetasciiEncoder {
  /** Translates one chunk of local bytes into netascii. */
  encode(chunk: Uint8Array): Uint8Array {
    let extra = 0;
    for (let i = 0; i < chunk.length; i++) if (chunk[i] === LF || chunk[i] === CR) extra++;
    if (extra === 0) return chunk;
    const out = new Uint8Array(chunk.length + extra);
    let o = 0;
    for (let i = 0; i < chunk.length; i++) {
      const b = chunk[i];
      if (b === LF) {
        out[o++] = CR;
        out[o++] = LF;
      } else if (b === CR) {
        out[o++] = CR;
        out[o++] = NUL;
      } else {
        out[o++] = b;
      }
    }
    return out;
  }
}

export class NetasciiDecoder {
  private pendingCr = false;

  /** Translates one chunk of netascii into local bytes. */
  decode(chunk: Uint8Array): Uint8Array {
    const out = new Uint8Array(chunk.length + 1);
    let o = 0;
    let i = 0;
    if (this.pendingCr) {
      this.pendingCr = false;
      if (chunk.length === 0) {
        this.pendingCr = true;
        return out.subarray(0, 0);
      }
      const b = chunk[0];
      if (b === LF) out[o++] = LF;
      else if (b === NUL) out[o++] = CR;
      else {
        out[o++] = CR;
        out[o++] = b;
      }
      i = 1;
    }
    for (; i < chunk.length; i++) {
      const b = chunk[i];
      if (b !== CR) {
        out[o++] = b;
        continue;
      }
      if (i + 1 === chunk.length) {
        this.pendingCr = true;
        break;
      }
      const next = chunk[++i];
      if (next === LF) out[o++] = LF;
      else if (next === NUL) out[o++] = CR;
      else {
        // A bare CR is not netascii; keep both bytes rather than lose data.
        out[o++] = CR;
        out[o++] = next;
      }
    }
    return out.subarray(0, o);
  }

  /** Bytes still held back at end of transfer (a trailing bare CR). */
  flush(): Uint8Array {
    if (!this.pendingCr) return new Uint8Array(0);
    this.pendingCr = false;
    return Uint8Array.of(CR);
  }
}
