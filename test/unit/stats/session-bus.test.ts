import { describe, expect, it } from 'vitest';
import pino, { type Logger } from 'pino';
import { SessionBus } from '../../../gateway/src/stats/session-bus.js';
import { newServerCounters } from '../../../gateway/src/stats/counters.js';
import type { SessionRecord } from '../../../gateway/src/stats/session-record.js';

function fakeLog() {
  const lines: { level: string; obj: Record<string, unknown>; msg: string }[] = [];
  const at = (level: string) => (obj: Record<string, unknown>, msg: string) => lines.push({ level, obj, msg });
  return { log: { info: at('info'), warn: at('warn'), error: at('error') } as unknown as Logger, lines };
}

const record = (outcome: string) => ({ id: 'r1', outcome }) as unknown as SessionRecord;

describe('stats: session bus', () => {
  it('session bus: counts the outcome, then logs, then calls the hook', () => {
    const counters = newServerCounters();
    const { log, lines } = fakeLog();
    const order: string[] = [];
    const bus = new SessionBus(counters, log, {
      onSession: (r) => {
        order.push(`hook:${r.outcome}:${counters.sessionsByOutcome[r.outcome]}:${lines.length}`);
      },
    });
    bus.finished(record('ok'));
    bus.finished(record('timeout'), new Error('why'));
    expect(counters.sessionsByOutcome).toEqual({ ok: 1, timeout: 1 });
    expect(order).toEqual(['hook:ok:1:1', 'hook:timeout:1:2']);
    expect(lines.map((l) => l.level)).toEqual(['info', 'warn']);
    expect(lines[1].obj.err).toBeInstanceOf(Error);
    expect(lines[0].obj.event).toBe('session');
  });

  it('session bus: not-found and option-probe are normal traffic (info), other failures warn', () => {
    const { log, lines } = fakeLog();
    const bus = new SessionBus(newServerCounters(), log);
    for (const o of ['not-found', 'option-probe', 'upstream-error', 'busy']) bus.finished(record(o));
    expect(lines.map((l) => l.level)).toEqual(['info', 'info', 'warn', 'warn']);
  });

  it('session bus: an expected outcome logs its cause by code, with no stack; a failure logs the error', () => {
    const { log, lines } = fakeLog();
    const bus = new SessionBus(newServerCounters(), log);
    const enoent = Object.assign(new Error('ENOENT: no such file or directory'), { code: 'ENOENT' });
    bus.finished(record('not-found'), enoent);
    bus.finished(record('upstream-error'), enoent);
    expect(lines[0].obj).toMatchObject({ cause: 'ENOENT' });
    expect(lines[0].obj).not.toHaveProperty('err');
    expect(JSON.stringify(lines[0].obj)).not.toContain('    at ');
    expect(lines[1].obj.err).toBe(enoent);
  });

  it('session bus: a hook that throws is logged and the next record still goes out', () => {
    const counters = newServerCounters();
    const { log, lines } = fakeLog();
    let calls = 0;
    const bus = new SessionBus(counters, log, {
      onSession: () => {
        calls++;
        throw new Error('user hook');
      },
    });
    expect(() => bus.finished(record('ok'))).not.toThrow();
    expect(() => bus.finished(record('ok'))).not.toThrow();
    expect(calls).toBe(2);
    expect(counters.sessionsByOutcome.ok).toBe(2);
    expect(lines.filter((l) => l.obj.event === 'hookError')).toHaveLength(2);
  });

  it('session bus: a sampled refusal is logged with its rule and handed on, but not counted again', () => {
    const counters = newServerCounters();
    const { log, lines } = fakeLog();
    const seen: string[] = [];
    const bus = new SessionBus(counters, log, { onSession: (r) => seen.push(r.outcome) });
    bus.sampledRefusal(record('client-denied'), { limit: 'deny-list', prefix: '10.0.0.0' });
    bus.sampledRefusal(record('busy'), { limit: 'sessions', prefix: '10.0.0.0' });
    expect(counters.sessionsByOutcome).toEqual({});
    expect(seen).toEqual(['client-denied', 'busy']);
    expect(lines.map((l) => [l.level, l.obj.limit, l.obj.sampled, l.msg])).toEqual([
      ['info', 'deny-list', true, 'request refused'],
      ['warn', 'sessions', true, 'request refused'],
    ]);
  });

  it('session bus: a record is wanted for a log line at its level or for a hook; at warn with no hook an ok session is only counted', () => {
    const atWarn = pino({ level: 'warn' }, { write: () => {} });
    const quietBus = new SessionBus(newServerCounters(), atWarn);
    // ok and not-found log at info (off at warn): nothing needs their records.
    expect(quietBus.wantsRecord('ok')).toBe(false);
    expect(quietBus.wantsRecord('not-found')).toBe(false);
    // A failure logs at warn: its record is built for the line.
    expect(quietBus.wantsRecord('timeout')).toBe(true);
    // Any hook (metrics, the Redis sink, the user's onSession) takes every record.
    expect(new SessionBus(newServerCounters(), atWarn, { onSession: () => {} }).wantsRecord('ok')).toBe(true);
    // At info every outcome has a line.
    expect(new SessionBus(newServerCounters(), pino({ level: 'info' }, { write: () => {} })).wantsRecord('ok')).toBe(true);
    // A logger that cannot say (no isLevelEnabled) gets every record, as before.
    expect(new SessionBus(newServerCounters(), fakeLog().log).wantsRecord('ok')).toBe(true);
  });

  it('session bus: counted() counts the outcome as finished() does, with no line and no hook', () => {
    const counters = newServerCounters();
    const { log, lines } = fakeLog();
    const bus = new SessionBus(counters, log);
    bus.counted('ok');
    bus.counted('ok');
    bus.finished(record('ok'));
    expect(counters.sessionsByOutcome).toEqual({ ok: 3 });
    expect(lines).toHaveLength(1);
  });
});
