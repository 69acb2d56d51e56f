/**
 * A smoke test: answers any read with the request as the function saw it, one `key: value` per
 * line. `curl tftp://127.0.0.1:6969/hello.txt` shows routing, path normalisation, the options a
 * client sent and the addresses both ends used, without any file on disk.
 */
import { denied, text, type Endpoint, type FunctionRequest, type Handler } from 'tftpfn/sdk';

export const handle: Handler = (request) => {
  if (request.kind === 'write') return denied();
  return text(describeRequest(request));
};

export function describeRequest(request: FunctionRequest): string {
  const options = Object.keys(request.options)
    .sort()
    .map((name) => `${show(name)}=${show(request.options[name])}`);
  const fields: [string, string][] = [
    ['id', show(request.id)],
    ['kind', request.kind],
    ['path', show(request.path)],
    ['rawPath', show(request.rawPath)],
    ['mode', request.mode],
    ['options', options.length > 0 ? options.join(' ') : '(none)'],
    ['peer', endpoint(request.peer)],
    ['local', endpoint(request.local)],
    ['mac', request.mac ?? '(none)'],
  ];
  return fields.map(([key, value]) => `${key}: ${value}\n`).join('');
}

function endpoint({ address, port, family }: Endpoint): string {
  return family === 'IPv6' ? `[${address}]:${port}` : `${address}:${port}`;
}

// Option names and values come straight off the network: anything that could break the
// one-line-per-field shape, or be mistaken for a separator, is shown JSON-quoted instead.
// eslint-disable-next-line no-control-regex
const PLAIN = /^[^\s"=\u0000-\u001f\u007f-\u009f\u2028\u2029]+$/;

// JSON.stringify leaves DEL, C1 controls and U+2028/9 alone; some terminals and editors don't.
const UNESCAPED = /[\u007f-\u009f\u2028\u2029]/g;

function show(value: string): string {
  if (PLAIN.test(value)) return value;
  return JSON.stringify(value).replace(UNESCAPED, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
