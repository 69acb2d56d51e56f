import { describe, expect, it } from 'vitest';
import { isResponse, responseProblem } from '../../../sdk/response-check.js';
import { bytes, denied, error, file, notFound, stream, text } from '../../../sdk/response.js';

async function* chunks(): AsyncGenerator<Uint8Array> {
  yield new Uint8Array([1]);
}

describe('isResponse', () => {
  it('isResponse: accepts what every helper builds', () => {
    for (const r of [text('x'), bytes(new Uint8Array(2)), stream(chunks()), stream(new ReadableStream()), file('a'), notFound(), denied(), error(8, 'no')]) {
      expect(responseProblem(r)).toBeUndefined();
      expect(isResponse(r)).toBe(true);
    }
  });

  it('isResponse: accepts a hand-built object of the right shape', () => {
    expect(isResponse({ kind: 'bytes', body: new Uint8Array(1), size: 1 })).toBe(true);
  });

  it.each<[string, unknown, RegExp]>([
    ['undefined', undefined, /must return a Response built with the sdk helpers.*undefined/],
    ['a string', 'hello', /must return a Response.*a string/],
    ['a Buffer', Buffer.from('x'), /kind undefined/],
    ['an unknown kind', { kind: 'json' }, /kind a string/],
    ['bytes without a body', { kind: 'bytes', size: 0 }, /body must be a Uint8Array/],
    ['bytes with a wrong size', { kind: 'bytes', body: new Uint8Array(2), size: 3 }, /size 3 does not match body length 2/],
    ['a stream with a plain array', { kind: 'stream', body: [], size: undefined }, /async iterable or a ReadableStream/],
    ['a stream with a negative size', { kind: 'stream', body: chunks(), size: -2 }, /non-negative integer/],
    ['a file outside the root', { kind: 'file', path: '../x' }, /"\.\." segments/],
    ['an absolute file', { kind: 'file', path: '/x' }, /relative/],
    ['an error with code 9', { kind: 'error', code: 9, message: 'x' }, /from 0 to 8/],
    ['an error without a message', { kind: 'error', code: 1 }, /message must be a string/],
  ])('isResponse: rejects %s with a reason', (_what, value, reason) => {
    expect(isResponse(value)).toBe(false);
    expect(responseProblem(value)).toMatch(reason);
  });
});
