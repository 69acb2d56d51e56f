/**
 * One mapping of an unexpected source failure (issue 10): the client reads the same ERROR
 * before the session starts (the handler throws) and after the first block (the reader
 * throws), and the session record says the same.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { get } from '../../client/index.js';
import { TftpError } from '../../gateway/src/protocol/error-codes.js';
import type { RequestHandler } from '../../gateway/src/index.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';

const fast = { timeoutMs: 1000, retries: 2 };
const SECRET = 'connect ECONNREFUSED /var/lib/secret/db.sock';

let running: TestGateway | undefined;
afterEach(async () => {
  await running?.stop();
  running = undefined;
});

async function wireErrorOf(p: Promise<unknown>): Promise<{ code: number; message: string }> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(TftpError);
    return { code: (e as TftpError).tftpCode, message: (e as TftpError).message };
  }
  throw new Error('the transfer succeeded; an ERROR was expected');
}

describe('error mapping at one boundary', () => {
  it('error mapping: an unexpected failure reads the same before the session starts and after the first block', async () => {
    let reads = 0;
    const handler: RequestHandler = {
      async openRead(request) {
        if (request.path.normalized === 'before.bin') throw new Error(SECRET);
        return {
          source: 'memory',
          reader: {
            size: undefined,
            async read() {
              // One full block, then the upstream breaks mid-transfer.
              if (++reads === 1) return new Uint8Array(512).fill(7);
              throw new Error(SECRET);
            },
            async close() {},
          },
        };
      },
    };
    running = await startTestGateway({ handler });
    const before = await wireErrorOf(get({ host: '127.0.0.1', port: running.port, path: 'before.bin', ...fast }));
    const after = await wireErrorOf(get({ host: '127.0.0.1', port: running.port, path: 'after.bin', ...fast }));
    expect(before).toEqual({ code: 0, message: 'internal error' });
    expect(after).toEqual(before);
    expect(reads).toBeGreaterThanOrEqual(2);

    const recBefore = await running.waitForRecord((r) => r.file === 'before.bin');
    const recAfter = await running.waitForRecord((r) => r.file === 'after.bin');
    expect(recBefore).toMatchObject({ outcome: 'upstream-error', errorCode: 0, errorMessage: 'internal error' });
    expect(recAfter).toMatchObject({ outcome: 'upstream-error', errorCode: 0, errorMessage: 'internal error' });
    expect(recAfter.bytes).toBeGreaterThanOrEqual(512);
  });
});
