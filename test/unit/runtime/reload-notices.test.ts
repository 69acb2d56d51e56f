/**
 * Reload notices without a reload (runtime/reload-notices.ts): the log lines and onReload events
 * reloadReporter produces, and the ReloadBus's order of delivery to the reporter and subscribers.
 */
import { describe, expect, test } from 'vitest';
import { ReloadBus, reloadReporter, type ReloadEvent } from '../../../gateway/src/runtime/reload-notices.js';
import { captureLog } from '../../helpers/functions.js';

describe('reload notices', () => {
  test('reload reporter: log lines keep their events and wording; onReload gets the loads without the tag', () => {
    const log = captureLog('info');
    const events: ReloadEvent[] = [];
    const report = reloadReporter(log.logger, (e) => events.push(e));
    report({ type: 'reloadComplete', function: 'fn', version: 'v2', previous: 'v1', ok: true, loadMs: 12.6 });
    report({ type: 'reloadFailed', function: 'fn', version: 'v3', previous: 'v2', ok: false, loadMs: 3, error: 'boom' });
    report({ type: 'reloadFailed', function: 'fn', version: 'v4', previous: undefined, ok: false, loadMs: 3, error: 'boom' });
    report({ type: 'versionRetired', function: 'fn', version: 'v1' });
    report({ type: 'sourceFailed', function: 'fn', err: new Error('x') });
    expect(log.lines.map((l) => [l.event, l.msg])).toEqual([
      ['functionLoaded', 'fn@v2 serving'],
      ['functionRejected', 'fn@v3 failed to load; v2 keeps serving'],
      ['functionRejected', 'fn@v4 failed to load; the function stays unavailable'],
      ['functionRetired', 'fn@v1 retired'],
      ['functionSourceError', 'cannot read or build the current version of fn'],
    ]);
    expect(log.lines[0].loadMs).toBe(13);
    expect(events).toEqual([
      { function: 'fn', version: 'v2', previous: 'v1', ok: true, loadMs: 12.6 },
      { function: 'fn', version: 'v3', previous: 'v2', ok: false, loadMs: 3, error: 'boom' },
      { function: 'fn', version: 'v4', previous: undefined, ok: false, loadMs: 3, error: 'boom' },
    ]);
  });

  test('reload bus: every notice goes to the reporter, then to each subscriber until it unsubscribes; a subscriber that throws costs nothing else', () => {
    const log = captureLog('info');
    const events: ReloadEvent[] = [];
    const bus = new ReloadBus(log.logger, (e) => events.push(e));
    const seen: string[] = [];
    const stop = bus.subscribe((n) => seen.push(`a:${n.type}`));
    bus.subscribe(() => {
      throw new Error('listener bug');
    });
    bus.subscribe((n) => seen.push(`c:${n.type}`));
    bus.emit({ type: 'buildStarted', function: 'fn' });
    bus.emit({ type: 'reloadComplete', function: 'fn', version: 'v2', previous: 'v1', ok: true, loadMs: 4 });
    stop();
    bus.emit({ type: 'versionRetired', function: 'fn', version: 'v1' });
    expect(seen).toEqual(['a:buildStarted', 'c:buildStarted', 'a:reloadComplete', 'c:reloadComplete', 'c:versionRetired']);
    expect(events).toEqual([{ function: 'fn', version: 'v2', previous: 'v1', ok: true, loadMs: 4 }]);
    expect(log.lines.map((l) => l.event)).toEqual(['reloadListenerError', 'functionLoaded', 'reloadListenerError', 'functionRetired', 'reloadListenerError']);
  });
});
