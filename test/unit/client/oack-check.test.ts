import { describe, expect, it } from 'vitest';
import { checkOack } from '../../../client/oack-check.js';
import { buildRequestOptions } from '../../../client/request-options.js';

describe('oack check', () => {
  const requested = { blksize: '1468', windowsize: '16', tsize: '0', timeout: '2' };

  it('oack check: accepts lower blksize and windowsize and reads tsize', () => {
    expect(checkOack(requested, { blksize: '1024', windowsize: '8', tsize: '12345', timeout: '2' })).toEqual({ blockSize: 1024, windowSize: 8, tsize: 12345 });
  });

  it('oack check: keeps the defaults for options the server left out', () => {
    expect(checkOack(requested, { tsize: '7' })).toEqual({ blockSize: 512, windowSize: 1, tsize: 7 });
  });

  it.each([
    [{ blksize: '2000' }, /blksize/],
    [{ blksize: '4' }, /blksize/],
    [{ windowsize: '0' }, /windowsize/],
    [{ windowsize: '17' }, /windowsize/],
    [{ timeout: '3' }, /timeout/],
    [{ tsize: 'x' }, /tsize/],
    [{ rollover: '0' }, /did not request/],
  ])('oack check: refuses %o with error 8', (oack, why) => {
    expect(() => checkOack(requested, oack)).toThrowError(why);
    try {
      checkOack(requested, oack);
    } catch (e) {
      expect((e as { tftpCode: number }).tftpCode).toBe(8);
    }
  });

  it('request options: windowsize 1 sends no option and out-of-range values throw', () => {
    expect(buildRequestOptions({ windowSize: 1, blockSize: 512 })).toEqual({ blksize: '512' });
    expect(() => buildRequestOptions({ blockSize: 70000 })).toThrow(RangeError);
    expect(() => buildRequestOptions({ timeoutSeconds: 0 })).toThrow(RangeError);
  });
});
