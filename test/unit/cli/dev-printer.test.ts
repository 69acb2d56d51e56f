/**
 * What `tftpfn dev` prints, from the reload notices it subscribes to (cli/dev.ts devPrinter):
 * the reload line with the time from build start to swap, a failed build or load with the
 * version that keeps serving, and nothing for other functions or for the quiet notices.
 */
import { afterEach, describe, expect, test, vi } from 'vitest';
import { devPrinter } from '../../../gateway/src/cli/dev.js';

afterEach(() => {
  vi.restoreAllMocks();
});

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  vi.spyOn(console, 'log').mockImplementation((s: string) => void out.push(s));
  vi.spyOn(console, 'error').mockImplementation((s: string) => void err.push(s));
  return { out, err };
}

describe('tftpfn dev printer', () => {
  test('dev printer: a reload prints its version and the time from the start of its build; a failure names what keeps serving', () => {
    const { out, err } = capture();
    let nowMs = 1000;
    vi.spyOn(performance, 'now').mockImplementation(() => nowMs);
    const print = devPrinter('hello', 'local-aaa');
    print({ type: 'buildStarted', function: 'hello' });
    nowMs = 1042.4;
    print({ type: 'reloadComplete', function: 'hello', version: 'local-bbb', previous: 'local-aaa', ok: true, loadMs: 30 });
    print({ type: 'versionRetired', function: 'hello', version: 'local-aaa' });
    print({ type: 'buildStarted', function: 'hello' });
    print({ type: 'sourceFailed', function: 'hello', err: new Error('cannot bundle /x/index.ts:\n  /x/index.ts:1:27: Unexpected ";"') });
    print({ type: 'buildStarted', function: 'hello' });
    print({ type: 'reloadFailed', function: 'hello', version: 'local-ccc', previous: 'local-bbb', ok: false, loadMs: 5, error: 'local-ccc cannot start' });
    print({ type: 'reloadAbandoned', function: 'hello', version: undefined });
    expect(out).toEqual(['tftpfn dev: reloaded hello local-bbb in 42 ms']);
    expect(err).toEqual([
      'tftpfn dev: cannot bundle /x/index.ts:\n  /x/index.ts:1:27: Unexpected ";"\ntftpfn dev: still serving local-bbb; fix the file and save again',
      'tftpfn dev: local-ccc cannot start\ntftpfn dev: still serving local-bbb; fix the file and save again',
    ]);
  });

  test('dev printer: a rebuild that needs no load still prints its outcome once: unchanged, or the earlier load failure', () => {
    const { out, err } = capture();
    const print = devPrinter('hello', 'local-aaa');
    print({ type: 'buildStarted', function: 'hello' });
    print({ type: 'reloadUnchanged', function: 'hello', version: 'local-aaa' });
    print({ type: 'buildStarted', function: 'hello' });
    print({ type: 'reloadUnchanged', function: 'hello', version: 'local-ddd', error: 'local-ddd cannot start' });
    expect(out).toEqual(['tftpfn dev: rebuilt hello: unchanged, still serving local-aaa']);
    expect(err).toEqual(['tftpfn dev: local-ddd failed to load before: local-ddd cannot start\ntftpfn dev: still serving local-aaa; fix the file and save again']);
  });

  test('dev printer: notices of another function print nothing', () => {
    const { out, err } = capture();
    const print = devPrinter('hello', 'local-aaa');
    print({ type: 'reloadComplete', function: 'other', version: 'v2', previous: 'v1', ok: true, loadMs: 3 });
    print({ type: 'sourceFailed', function: 'other', err: new Error('x') });
    expect([out, err]).toEqual([[], []]);
  });
});
