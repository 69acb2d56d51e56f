/**
 * Starts a real gateway on loopback for integration tests, with a temporary root folder,
 * and collects its session records so tests can wait on events instead of sleeping.
 */
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pino } from 'pino';
import { startGateway, type GatewayConfigInput, type Handler, type RequestHandler, type RunningGateway, type SessionRecord } from '../../gateway/src/index.js';

export interface TestGateway extends RunningGateway {
  root: string;
  records: SessionRecord[];
  /** Resolves with the next record matching `pred` (or an earlier one already received). */
  waitForRecord(pred: (r: SessionRecord) => boolean, timeoutMs?: number): Promise<SessionRecord>;
  stop(): Promise<void>;
}

/** Creates files (name -> contents) under a fresh temp folder. */
export function makeRoot(files: Record<string, string | Uint8Array> = {}): string {
  const root = mkdtempSync(join(tmpdir(), 'tftpfn-test-'));
  for (const [name, body] of Object.entries(files)) {
    mkdirSync(dirname(join(root, name)), { recursive: true });
    writeFileSync(join(root, name), body);
  }
  return root;
}

export async function startTestGateway(
  opts: { files?: Record<string, string | Uint8Array>; root?: string; config?: GatewayConfigInput; handler?: RequestHandler; functions?: Record<string, Handler> } = {},
): Promise<TestGateway> {
  const root = opts.root ?? makeRoot(opts.files);
  const records: SessionRecord[] = [];
  const waiters: { pred: (r: SessionRecord) => boolean; resolve: (r: SessionRecord) => void }[] = [];
  const running = await startGateway({
    // TFTPFN_TEST_SEND_PATH=plain runs a suite on the fallback send path (scripts/test.sh runs
    // the interop and reflection suites once more that way; the main run takes 'auto': GSO).
    config: { hosts: ['127.0.0.1'], port: 0, root, ...(process.env.TFTPFN_TEST_SEND_PATH ? { sendPath: process.env.TFTPFN_TEST_SEND_PATH as 'plain' } : {}), ...opts.config },
    handler: opts.handler,
    functions: opts.functions,
    logger: pino({ level: process.env.TFTPFN_TEST_LOG ?? 'silent' }),
    onSession: (r) => {
      records.push(r);
      for (const w of [...waiters]) {
        if (w.pred(r)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(r);
        }
      }
    },
  });
  return {
    ...running,
    root,
    records,
    waitForRecord(pred, timeoutMs = 10_000) {
      const found = records.find(pred);
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error('timed out waiting for a session record')), timeoutMs);
        waiters.push({ pred, resolve: (r) => { clearTimeout(t); resolve(r); } });
      });
    },
    async stop() {
      await running.close(0);
      if (!opts.root) rmSync(root, { recursive: true, force: true });
    },
  };
}
