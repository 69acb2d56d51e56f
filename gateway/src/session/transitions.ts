/**
 * The shape of a session's transition table, in the spirit of h11's `_state.py`: for each live
 * state, each kind of input names its handler, or says it is `ignored` (counted in
 * `counters.ignored`: it made no sense at this point) or a `noop` (nothing to do, not counted).
 * A session keeps its whole table in one place and dispatches every input through it, so the
 * question "what does state X do with input Y" has one answer, in one line.
 *
 * Input kinds are the SessionInput types, with packets split by opcode (RFC 1350 names).
 */
import type { AckPacket, DataPacket, ErrorPacket, Packet } from '../protocol/packet.js';
import { Opcode } from '../protocol/packet.js';
import type { SessionCounters, SessionInput } from './types.js';

export type InputKind = 'packet:ack' | 'packet:data' | 'packet:error' | 'packet:other' | Exclude<SessionInput['type'], 'packet'>;

/** The input a handler of kind K receives, narrowed. */
export type InputOf<K extends InputKind> = K extends 'packet:ack'
  ? { type: 'packet'; packet: AckPacket }
  : K extends 'packet:data'
    ? { type: 'packet'; packet: DataPacket }
    : K extends 'packet:error'
      ? { type: 'packet'; packet: ErrorPacket }
      : K extends 'packet:other'
        ? { type: 'packet'; packet: Packet }
        : Extract<SessionInput, { type: K }>;

export type Handler<S, K extends InputKind> = (session: S, input: InputOf<K>, now: number) => void;

/** One state's row: every input kind, a handler or what happens instead. */
export type TransitionRow<S> = { readonly [K in InputKind]: Handler<S, K> | 'ignored' | 'noop' };

export function inputKind(input: SessionInput): InputKind {
  if (input.type !== 'packet') return input.type;
  switch (input.packet.op) {
    case Opcode.Ack:
      return 'packet:ack';
    case Opcode.Data:
      return 'packet:data';
    case Opcode.Error:
      return 'packet:error';
    default:
      return 'packet:other';
  }
}

/** Runs the row's entry for this input. */
export function dispatch<S extends { readonly counters: SessionCounters }>(row: TransitionRow<S>, session: S, input: SessionInput, now: number): void {
  const entry = row[inputKind(input)];
  if (entry === 'ignored') session.counters.ignored++;
  else if (entry !== 'noop') (entry as Handler<S, InputKind>)(session, input as never, now);
}
