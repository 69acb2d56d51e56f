/**
 * What `tftpfn invoke` prints: the response kind, tsize and size (or, for a write, what became
 * of the upload), the error, what was thrown, the logs, and the body, whole when it is short
 * printable text, else a hexdump -C preview; or all of it as one JSON object (--json).
 */
import { formatBytes } from './build.js';
import type { InvokeFlags, Outcome } from './invoke-run.js';

/** Bodies up to this size that are printable text are shown whole; others as a hex preview. */
const TEXT_LIMIT = 4096;
const PREVIEW_BYTES = 256;

export function print(o: Outcome, body: Buffer, flags: InvokeFlags): void {
  const text = printableText(body);
  if (flags.json) {
    const { body: _, ...rest } = o;
    console.log(JSON.stringify({ ...rest, body: body.toString('base64'), ...(text !== undefined ? { bodyText: text } : {}) }));
    return;
  }
  const none = o.thrown === undefined ? 'none (refused before the function answered)' : 'none (the handler threw, or returned something that is not a Response)';
  const lines = [`response: ${o.kind === 'none' ? none : o.kind}`];
  if (flags.kind === 'write') lines.push(`declared tsize: ${flags.option?.tsize ?? 'none'}`, ...writeLines(o));
  else lines.push(`tsize: ${o.tsize ?? 'none'}`, `size: ${formatBytes(o.size)}`);
  if (o.errorCode !== undefined) lines.push(`error: ${o.errorCode} ${o.errorMessage ?? ''} (the client gets an ERROR packet${o.size ? ' after the bytes above' : ''})`);
  if (o.thrown !== undefined) lines.push('thrown:', ...o.thrown.split('\n').map((l) => `  ${l}`));
  lines.push(o.logs.length ? 'logs:' : 'logs: (none)', ...o.logs.map((l) => `  ${l}`));
  if (flags.out !== undefined) lines.push(`body: written to ${flags.out}`);
  if (flags.kind === 'write') {
    // A write's answer has no body: the lines above say where the upload went.
  } else if (body.length === 0) lines.push('body: (empty)');
  else if (text !== undefined) lines.push('body:', text.endsWith('\n') ? text.slice(0, -1) : text);
  else lines.push(`body (first ${Math.min(PREVIEW_BYTES, body.length)} of ${body.length} bytes):`, ...hexPreview(body.subarray(0, PREVIEW_BYTES)));
  console.log(lines.join('\n'));
}

/** What a write's answer means for the upload, in the words of docs/UPLOADS.md. */
function writeLines(o: Outcome): string[] {
  const lines: string[] = [];
  if (o.received !== undefined) lines.push(`received: ${formatBytes(o.received)} (handed to the function through request.body)`);
  if (o.errorCode !== undefined) return lines;
  if (o.kind === 'accepted') lines.push('upload: accepted (the function took the bytes; the client gets the final ACK)');
  else if (o.kind === 'discard') lines.push('upload: discarded (received and dropped; the client gets the final ACK)');
  else if (o.stored) lines.push(`upload: stored as s3://${o.stored.bucket}/${o.stored.key}, ${formatBytes(o.stored.size)}${o.stored.contentType ? `, ${o.stored.contentType}` : ''} (the gateway puts it in the object store)`);
  return lines;
}

/** The body as text when it is short, valid UTF-8 and has no control characters but tab and line ends. */
function printableText(body: Buffer): string | undefined {
  if (body.length === 0 || body.length > TEXT_LIMIT) return undefined;
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(body);
  } catch {
    return undefined;
  }
  // eslint-disable-next-line no-control-regex
  return /[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]/.test(text) ? undefined : text;
}

/** hexdump -C style: offset, 16 bytes in hex, then the printable ASCII. */
function hexPreview(bytes: Buffer): string[] {
  const out: string[] = [];
  for (let off = 0; off < bytes.length; off += 16) {
    const row = bytes.subarray(off, off + 16);
    const hex = [...row].map((b) => b.toString(16).padStart(2, '0'));
    const left = hex.slice(0, 8).join(' ');
    const right = hex.slice(8).join(' ');
    const ascii = [...row].map((b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '.')).join('');
    out.push(`${off.toString(16).padStart(8, '0')}  ${left.padEnd(23)}  ${right.padEnd(23)}  |${ascii}|`);
  }
  return out;
}
