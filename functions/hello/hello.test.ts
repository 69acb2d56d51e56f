import { invoke } from 'tftpfn/sdk';
import { describe, expect, test } from 'vitest';
import { describeRequest, handle } from './index.js';

describe('hello', () => {
  test('hello: shows every request field, one per line, ending in a newline', async () => {
    const result = await invoke(handle, {
      path: '/hello.txt',
      id: 'req-1',
      options: { tsize: '0', blksize: '1468' },
      peer: { address: '10.0.0.7', port: 40000 },
    });
    const expected = [
      'id: req-1',
      'kind: read',
      'path: hello.txt',
      'rawPath: /hello.txt',
      'mode: octet',
      'options: blksize=1468 tsize=0',
      'peer: 10.0.0.7:40000',
      'local: 192.0.2.1:69',
      'mac: (none)',
      '',
    ].join('\n');
    expect(result.errorCode).toBeUndefined();
    expect(result.body.toString()).toBe(expected);
    expect(result.tsize).toBe(Buffer.byteLength(expected));
    expect(result.logs).toEqual([]);
  });

  test('hello: shows the MAC parsed from the path, IPv6 endpoints in brackets, netascii mode', async () => {
    const result = await invoke(handle, {
      path: 'hello//01-AA-BB-CC-DD-EE-F0.txt',
      id: 'req-2',
      mode: 'netascii',
      peer: { address: '2001:db8::7', port: 1234 },
      local: { address: '2001:db8::1', port: 6969 },
    });
    expect(result.body.toString()).toBe(
      [
        'id: req-2',
        'kind: read',
        'path: hello/01-AA-BB-CC-DD-EE-F0.txt',
        'rawPath: hello//01-AA-BB-CC-DD-EE-F0.txt',
        'mode: netascii',
        'options: (none)',
        'peer: [2001:db8::7]:1234',
        'local: [2001:db8::1]:6969',
        'mac: aa:bb:cc:dd:ee:f0',
        '',
      ].join('\n'),
    );
  });

  test('hello: option values from the network cannot add lines or fake a separator', async () => {
    const result = await invoke(handle, {
      path: 'hello.txt',
      id: 'req-3',
      options: { x: 'a\nmac: forged', 'y z': 'b=c', e: '' },
    });
    expect(result.body.toString().split('\n')[5]).toBe('options: e="" x="a\\nmac: forged" "y z"="b=c"');
    expect(result.body.toString().split('\n')).toHaveLength(10);
  });

  test('hello: a path with spaces or non-ASCII names is shown quoted or as is', async () => {
    const result = await invoke(handle, { path: 'my file.txt', id: 'req-4' });
    expect(result.body.toString()).toContain('\npath: "my file.txt"\nrawPath: "my file.txt"\n');
    const utf8 = await invoke(handle, { path: 'café.txt', id: 'req-5' });
    expect(utf8.body.toString()).toContain('\npath: café.txt\n');
  });

  test('hello: a write request is refused', async () => {
    const result = await invoke(handle, { path: 'hello.txt', kind: 'write' });
    expect([result.errorCode, result.errorMessage]).toEqual([2, 'access violation']);
  });

  test('describeRequest: C1 controls and line separators are escaped too', () => {
    const request = {
      id: 'i', kind: 'read', path: 'p', rawPath: 'p', mode: 'octet', mac: undefined,
      options: { x: 'a\u2028b\u0085' },
      peer: { address: '10.0.0.7', port: 1, family: 'IPv4' },
      local: { address: '10.0.0.1', port: 69, family: 'IPv4' },
    } as const;
    expect(describeRequest(request)).toContain('options: x="a\\u2028b\\u0085"\n');
  });
});
