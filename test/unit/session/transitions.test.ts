/** The transition-table dispatch shared by both sessions. */
import { describe, expect, it } from 'vitest';
import { TftpError } from '../../../gateway/src/protocol/error-codes.js';
import { Opcode } from '../../../gateway/src/protocol/packet.js';
import { dispatch, inputKind, type TransitionRow } from '../../../gateway/src/session/transitions.js';
import { newCounters, type SessionInput } from '../../../gateway/src/session/types.js';

describe('session transitions', () => {
  it('transitions: packets are keyed by opcode, every other input by its type', () => {
    expect(inputKind({ type: 'packet', packet: { op: Opcode.Ack, block: 1 } })).toBe('packet:ack');
    expect(inputKind({ type: 'packet', packet: { op: Opcode.Data, block: 1, data: new Uint8Array(0) } })).toBe('packet:data');
    expect(inputKind({ type: 'packet', packet: { op: Opcode.Error, code: 0, message: '' } })).toBe('packet:error');
    expect(inputKind({ type: 'packet', packet: { op: Opcode.Oack, options: {} } })).toBe('packet:other');
    expect(inputKind({ type: 'packet', packet: { op: Opcode.Rrq, filename: 'f', mode: 'octet', options: {} } })).toBe('packet:other');
    for (const input of [{ type: 'timeout' }, { type: 'end' }, { type: 'committed' }, { type: 'repeatRequest' }] as SessionInput[]) expect(inputKind(input)).toBe(input.type);
    expect(inputKind({ type: 'data', chunk: new Uint8Array(1) })).toBe('data');
    expect(inputKind({ type: 'sourceError', error: new TftpError(0, 'x') })).toBe('sourceError');
  });

  it('transitions: a handler gets the input, ignored counts it, noop does nothing', () => {
    const s = { counters: newCounters(), acks: [] as number[] };
    const row: TransitionRow<typeof s> = {
      'packet:ack': (t, i, now) => t.acks.push(i.packet.block, now),
      'packet:data': 'ignored',
      'packet:error': 'ignored',
      'packet:other': 'ignored',
      timeout: 'noop',
      data: 'noop',
      end: 'noop',
      committed: 'ignored',
      written: 'noop',
      sourceError: 'noop',
      repeatRequest: 'noop',
    };
    dispatch(row, s, { type: 'packet', packet: { op: Opcode.Ack, block: 7 } }, 42);
    dispatch(row, s, { type: 'timeout' }, 43);
    dispatch(row, s, { type: 'committed' }, 44);
    dispatch(row, s, { type: 'packet', packet: { op: Opcode.Oack, options: {} } }, 45);
    expect(s.acks).toEqual([7, 42]);
    expect(s.counters.ignored).toBe(2);
  });
});
