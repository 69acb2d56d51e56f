/**
 * What a pool's workers log, on the gateway's side (runtime/worker-logs.ts): secrets redacted,
 * lines of an invocation bounded and their drops reported once when it ends, console output
 * line by line.
 */
import { PassThrough } from 'node:stream';
import { describe, expect, test } from 'vitest';
import { makeRedactor, WorkerLogs } from '../../../gateway/src/runtime/worker-logs.js';
import { captureLog } from '../../helpers/functions.js';

const line = (id: number | undefined, msg: string, obj: unknown = undefined) => ({ t: 'log' as const, id, level: 'info' as const, obj, msg });

describe('worker logs', () => {
  test('redactor: secrets of 4 characters or more are replaced, shorter ones are left alone', () => {
    const redact = makeRedactor({ TOKEN: 's3cr3t-value', PIN: 'abc' });
    expect(redact('token=s3cr3t-value pin=abc s3cr3t-value')).toBe('token=[redacted] pin=abc [redacted]');
    expect(makeRedactor({})('s3cr3t-value')).toBe('s3cr3t-value');
  });

  test('an invocation logs up to its line bound; the drop is reported once, with the request id, when it ends', () => {
    const log = captureLog('debug');
    const logs = new WorkerLogs(log.logger, { linesPerInvocation: 2, bytesPerInvocation: 1e6, linesPerSecond: 1000 }, makeRedactor({ K: 'hunter22' }));
    const call = { id: 7, requestId: 'req-7' };
    for (let i = 0; i < 5; i++) logs.onLog(line(7, `line ${i} hunter22`, { n: i, key: 'hunter22' }), call);
    logs.finish(call);
    logs.finish(call);
    const fnLines = log.lines.filter((l) => l.event === 'functionLog');
    expect(fnLines.map((l) => l.msg)).toEqual(['line 0 [redacted]', 'line 1 [redacted]']);
    expect(fnLines[0]).toMatchObject({ id: 'req-7', n: 0, key: '[redacted]' });
    const drops = log.lines.filter((l) => l.event === 'functionLogDropped');
    expect(drops).toHaveLength(1);
    expect(drops[0]).toMatchObject({ id: 'req-7', dropped: 3, msg: 'log lines dropped: 3' });
    logs.close();
  });

  test('console output is logged line by line, a partial line waits for its end, CR LF is trimmed', async () => {
    const log = captureLog('debug');
    const logs = new WorkerLogs(log.logger, { linesPerInvocation: 10, bytesPerInvocation: 1e6, linesPerSecond: 1000 }, (s) => s);
    const out = new PassThrough();
    logs.pipe(out, 'stdout');
    out.write('one\r\ntw');
    out.write('o\nthree');
    await new Promise((r) => setImmediate(r));
    const lines = log.lines.filter((l) => l.event === 'functionOutput');
    expect(lines.map((l) => [l.stream, l.msg])).toEqual([
      ['stdout', 'one'],
      ['stdout', 'two'],
    ]);
    logs.close();
  });
});
