/**
 * A hung S3 (accepts the connection, never answers) through the real AWS SDK: the time to the
 * first byte is bounded, so a new request gets ERROR 0 within seconds instead of after
 * upstreamAttempts × s3RequestTimeoutMs (22 s by default before), with outcome upstream-error
 * in its record (issue 9 §5).
 */
import { createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { startGateway, type SessionRecord } from '../../gateway/src/index.js';
import { get } from '../../client/index.js';
import { ObjectStoreError } from '../../gateway/src/objects/object-store.js';
import { S3ObjectStore, STALLED_FIRST_BYTE_MS } from '../../gateway/src/objects/s3-store.js';

let hung: Server;
let endpoint: string;
const sockets = new Set<Socket>();
let accepted = 0;

beforeAll(async () => {
  hung = createServer((s) => {
    accepted++;
    sockets.add(s);
    s.on('error', () => {});
    s.on('close', () => sockets.delete(s));
    // Reads the request and never answers: what a frozen S3 (or a black-holed proxy) does.
    s.resume();
  });
  await new Promise<void>((r) => hung.listen(0, '127.0.0.1', r));
  endpoint = `http://127.0.0.1:${(hung.address() as { port: number }).port}`;
});

afterAll(async () => {
  for (const s of sockets) s.destroy();
  await new Promise<void>((r) => hung.close(() => r()));
});

function store(firstByteTimeoutMs: number, stallHoldMs?: number): S3ObjectStore {
  return new S3ObjectStore({
    endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: 'K', secretAccessKey: 'S' },
    requestTimeoutMs: 20_000,
    firstByteTimeoutMs,
    stallHoldMs,
  });
}

async function failureOf(p: Promise<unknown>): Promise<{ error: unknown; ms: number }> {
  const started = performance.now();
  try {
    await p;
  } catch (error) {
    return { error, ms: performance.now() - started };
  }
  throw new Error('expected the call to fail');
}

describe('s3 store: time to first byte', () => {
  it('s3 store: a HEAD to a server that never answers fails as unavailable after firstByteTimeoutMs, not the request timeout', async () => {
    const s = store(600);
    try {
      const before = accepted;
      const { error, ms } = await failureOf(s.head({ bucket: 'b', key: 'k' }));
      expect(error).toBeInstanceOf(ObjectStoreError);
      expect(error).toMatchObject({ kind: 'unavailable' });
      expect((error as Error).message).toMatch(/no response within 600 ms/);
      expect(ms).toBeGreaterThanOrEqual(550);
      expect(ms).toBeLessThan(3000);
      expect(accepted).toBeGreaterThan(before);
      expect(s.requests.firstByteTimeouts).toBe(1);
    } finally {
      await s.close();
    }
  });

  it('s3 store: while stalled, further calls wait only the short probe bound; a ranged GET too', async () => {
    const s = store(1500);
    try {
      const first = await failureOf(s.head({ bucket: 'b', key: 'k' }));
      expect(first.ms).toBeGreaterThanOrEqual(1400);
      const second = await failureOf(s.getRange({ bucket: 'b', key: 'k' }, 0, 10, 'etag'));
      expect(second.error).toMatchObject({ kind: 'unavailable' });
      expect((second.error as Error).message).toMatch(/upstream stalled/);
      expect(second.ms).toBeLessThan(STALLED_FIRST_BYTE_MS + 1000);
      expect(s.requests.firstByteTimeouts).toBe(2);
    } finally {
      await s.close();
    }
  });

  it('s3 store: a stall ends on its own after stallHoldMs, and the full bound applies again', async () => {
    const s = store(400, 400);
    try {
      await failureOf(s.head({ bucket: 'b', key: 'k' }));
      await new Promise((r) => setTimeout(r, 500));
      const again = await failureOf(s.head({ bucket: 'b', key: 'k' }));
      expect((again.error as Error).message).toMatch(/no response within 400 ms$/);
      expect(again.ms).toBeGreaterThanOrEqual(350);
    } finally {
      await s.close();
    }
  });
});

describe('gateway: a hung S3 and a new request', () => {
  it('gateway: an RRQ for a bucket object gets ERROR 0 within seconds and a record with outcome upstream-error', async () => {
    const records: SessionRecord[] = [];
    const gw = await startGateway({
      config: {
        hosts: ['127.0.0.1'],
        port: 0,
        objectStore: 's3',
        s3Endpoint: endpoint,
        s3ForcePathStyle: true,
        s3AccessKeyId: 'K',
        s3SecretAccessKey: 'S',
        s3Region: 'us-east-1',
        // The defaults for everything else: 5 s per call and 4 attempts, 22 s before this fix.
        s3FirstByteTimeoutMs: 2000,
        routes: [{ match: 'boot/**', bucket: 'boot', prefix: '', stripPrefix: true }],
      },
      logger: pino({ level: 'silent' }),
      onSession: (r) => records.push(r),
    });
    try {
      const started = performance.now();
      const { error } = await failureOf(get({ host: '127.0.0.1', port: gw.port, path: 'boot/vmlinuz', timeoutMs: 1000, retries: 15 }));
      const ms = performance.now() - started;
      expect(error).toMatchObject({ tftpCode: 0, message: 'upstream unavailable' });
      console.log(`hung S3: ERROR 0 after ${Math.round(ms)} ms`);
      // First call 2 s, then three stalled probes of 250 ms with 0.1 + 0.4 + 1.6 s of backoff.
      expect(ms).toBeLessThan(6000);
      const deadline = Date.now() + 5000;
      while (!records.some((r) => r.file === 'boot/vmlinuz') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      const record = records.find((r) => r.file === 'boot/vmlinuz');
      expect(record?.outcome).toBe('upstream-error');
      expect(record?.errorCode).toBe(0);
    } finally {
      await gw.close(0);
    }
  }, 30_000);
});
