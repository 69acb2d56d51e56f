import { describe, expect, test } from 'vitest';
import { decodeMessage, encodeMessageFrame, MessageDecodeError } from '../../../gateway/src/runtime/message-codec.js';
import { FrameDecoder } from '../../../gateway/src/runtime/frame-codec.js';

function roundTrip(msg: object): unknown {
  const d = new FrameDecoder(1 << 20);
  d.push(encodeMessageFrame(msg));
  return decodeMessage(d.next()!);
}

describe('message codec', () => {
  test('a message with a byte field round-trips; the bytes are a copy', () => {
    const body = new Uint8Array([0, 1, 2, 255]);
    const got = roundTrip({ t: 'bytes', id: 7, body }) as { t: string; id: number; body: Uint8Array };
    expect(got).toEqual({ t: 'bytes', id: 7, body });
    expect(got.body).toBeInstanceOf(Uint8Array);
    expect(got.body.buffer).not.toBe(body.buffer);
  });

  test('messages without bytes round-trip; undefined fields are dropped', () => {
    const req = { t: 'invoke', id: 1, request: { id: 'r1', path: 'grub/grub.cfg', options: { blksize: '1468' }, mac: undefined } };
    expect(roundTrip(req)).toEqual({ t: 'invoke', id: 1, request: { id: 'r1', path: 'grub/grub.cfg', options: { blksize: '1468' } } });
    expect(roundTrip({ t: 'kvResult', rpc: 3, value: undefined })).toEqual({ t: 'kvResult', rpc: 3 });
  });

  test('forged payloads are refused: short, overlong envelope, not JSON, not an object, unknown byte field, stray bytes', () => {
    const payload = (json: string, extra = Buffer.alloc(0), claimed?: number) => {
      const j = Buffer.from(json);
      const head = Buffer.alloc(4);
      head.writeUInt32BE(claimed ?? j.length, 0);
      return Buffer.concat([head, j, extra]);
    };
    for (const p of [Buffer.alloc(2), payload('{}', undefined, 999), payload('{nope'), payload('[1,2]'), payload('{"t":"bytes","$b":"__proto__"}', Buffer.from('x')), payload('{"t":"end","id":1}', Buffer.from('x'))]) {
      expect(() => decodeMessage(p)).toThrow(MessageDecodeError);
    }
  });

  test('"__proto__" in an envelope is an own key, not the prototype', () => {
    const d = decodeMessage(Buffer.concat([Buffer.from([0, 0, 0, 33]), Buffer.from('{"t":"ready","__proto__":{"x":1}}')])) as Record<string, unknown>;
    expect(({} as Record<string, unknown>).x).toBeUndefined();
    expect(Object.keys(d)).toContain('__proto__');
  });
});
