/**
 * The bytes of one message on a sandboxed function's pipe (inside a frame, frame-codec.ts):
 *
 *    0          4                 4+n
 *   +----------+-----------------+----------------------+
 *   | n: json  |  JSON envelope  |  binary field bytes  |
 *   | length   |  (UTF-8)        |  (rest of the frame) |
 *   +----------+-----------------+----------------------+
 *
 * Messages are plain objects with at most one byte field (`body`, `data` or `value`); the
 * envelope names it in "$b". JSON rather than v8.serialize: the per-message cost decides the
 * cost of every invocation, and v8.serialize plus deserialize costs ~7 µs for a request where
 * this costs ~2 µs. A field that is undefined is simply absent (JSON has no undefined), which
 * message-check.ts accepts.
 */

const BYTE_FIELDS: ReadonlySet<string> = new Set(['body', 'data', 'value']);
const BINARY_KEY = '$b';

export class MessageDecodeError extends Error {
  constructor(why: string) {
    super(`an undecodable message (${why})`);
    this.name = 'MessageDecodeError';
  }
}

/** One message as a whole frame (length header included), ready to write. */
export function encodeMessageFrame(msg: object): Buffer {
  let field: string | undefined;
  let bytes: Uint8Array | undefined;
  for (const k of BYTE_FIELDS) {
    const v = (msg as Record<string, unknown>)[k];
    if (v instanceof Uint8Array) {
      field = k;
      bytes = v;
      break;
    }
  }
  const json = JSON.stringify(field ? { ...msg, [field]: undefined, [BINARY_KEY]: field } : msg);
  const jsonBytes = Buffer.byteLength(json);
  const binBytes = bytes?.byteLength ?? 0;
  const frame = Buffer.allocUnsafe(8 + jsonBytes + binBytes);
  frame.writeUInt32BE(4 + jsonBytes + binBytes, 0);
  frame.writeUInt32BE(jsonBytes, 4);
  frame.write(json, 8, 'utf8');
  if (bytes) frame.set(bytes, 8 + jsonBytes);
  return frame;
}

/** A frame's payload back into a message; throws MessageDecodeError. Byte fields are copies. */
export function decodeMessage(payload: Buffer): unknown {
  if (payload.byteLength < 4) throw new MessageDecodeError('shorter than its header');
  const jsonBytes = payload.readUInt32BE(0);
  if (jsonBytes > payload.byteLength - 4) throw new MessageDecodeError('envelope longer than the frame');
  let msg: unknown;
  try {
    msg = JSON.parse(payload.toString('utf8', 4, 4 + jsonBytes));
  } catch {
    throw new MessageDecodeError('envelope is not JSON');
  }
  if (msg === null || typeof msg !== 'object' || Array.isArray(msg)) throw new MessageDecodeError('envelope is not an object');
  const m = msg as Record<string, unknown>;
  const field = m[BINARY_KEY];
  if (field === undefined) {
    if (payload.byteLength !== 4 + jsonBytes) throw new MessageDecodeError('bytes after an envelope that announces none');
    return m;
  }
  if (typeof field !== 'string' || !BYTE_FIELDS.has(field)) throw new MessageDecodeError('unknown byte field');
  delete m[BINARY_KEY];
  m[field] = new Uint8Array(payload.subarray(4 + jsonBytes));
  return m;
}
