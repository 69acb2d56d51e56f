/**
 * The harness's side of a write (WRQ): feeding the upload to a handler that reads
 * request.body, and taking the bytes as the gateway would once a handler has answered with
 * s3Put(), discard() or accepted() without reading them.
 */
import type { BodyUpload } from '../gateway/src/runtime/body-upload.js';
import { BODY_MESSAGE_BYTES } from '../gateway/src/runtime/body-channel.js';
import type { HandlerResult } from '../gateway/src/runtime/run-handler.js';
import type { FunctionRequest } from './contract.js';
import type { InvokeResult } from './invoke-types.js';
import type { TftpErrorCode } from './response.js';

/**
 * The upload after the handler answered a write with s3Put(), discard() or accepted(): the
 * gateway would receive the bytes now; what the handler already read is gone, as on the wire.
 * Only an s3Put() keeps them (and stops past maxUploadBytes, as the gateway's upload writer
 * does). The fields this adds to the result.
 */
export async function takeUpload(
  r: Extract<HandlerResult, { kind: 'put' | 'discard' | 'accepted' }>,
  body: AsyncIterable<Uint8Array> | undefined,
  maxUploadBytes: number | undefined,
): Promise<Partial<InvokeResult>> {
  const chunks: Uint8Array[] = [];
  let bytes = 0;
  if (body) {
    for await (const chunk of body) {
      if (r.kind !== 'put') continue;
      bytes += chunk.byteLength;
      if (maxUploadBytes !== undefined && bytes > maxUploadBytes) return { errorCode: 3, errorMessage: 'upload too large' };
      chunks.push(chunk);
    }
  }
  if (r.kind !== 'put') return {};
  return { stored: { bucket: r.bucket, key: r.key, contentType: r.contentType, body: Buffer.concat(chunks) } };
}

/**
 * Feeds a write's bytes to a handler that is reading request.body, as the gateway's write
 * session does (handlers/body-writer.ts): chunk by chunk as credit allows, past
 * `maxUploadBytes` an abort ('too-large') and ERROR 3, then the end and the handler's answer.
 */
export async function feedBody(
  upload: BodyUpload,
  source: AsyncIterable<Uint8Array> | undefined,
  maxUploadBytes: number | undefined,
  full: FunctionRequest,
  result: (fields: Partial<InvokeResult>) => InvokeResult,
): Promise<InvokeResult> {
  let received = 0;
  try {
    for await (const given of source ?? []) {
      // The gateway hands the body over in messages of at most BODY_MESSAGE_BYTES (DATA blocks
      // are smaller still); one larger chunk would wait for more credit than the window holds.
      for (let at = 0; at < given.byteLength; at += BODY_MESSAGE_BYTES) {
        const chunk = given.subarray(at, at + BODY_MESSAGE_BYTES);
        if (maxUploadBytes !== undefined && received + chunk.byteLength > maxUploadBytes) {
          upload.abort('too-large');
          return result({ request: full, received, errorCode: 3, errorMessage: 'upload too large' });
        }
        received += chunk.byteLength;
        await upload.write(chunk);
      }
    }
    await upload.finish();
  } catch (e) {
    // The handler answered an error (its code and text go on the wire) or failed (ERROR 0;
    // `thrown` is the failure: the kind, and the message and stack of what it threw).
    const failed = (e as { cause?: { kind?: string } }).cause?.kind !== undefined;
    const code = (e as { tftpCode?: number }).tftpCode ?? 0;
    return result({ request: full, received, errorCode: (failed ? 0 : code) as TftpErrorCode, errorMessage: failed ? 'internal error' : (e as Error).message, thrown: failed ? (e as { cause?: unknown }).cause : undefined, ...(failed ? {} : { response: { kind: 'error', code: code as TftpErrorCode, message: (e as Error).message } }) });
  }
  return result({ request: full, received, response: { kind: 'accepted' } });
}
