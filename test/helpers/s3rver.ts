/**
 * Starts a real s3rver (the devDependency's own CLI, in a child process) on loopback and
 * counts the requests it serves.
 *
 * Counting: s3rver's koa-logger line ("GET /bucket/key 206 9ms 1.05mb") is lossy — its size is
 * humanised, it omits the Range header, and without a TTY s3rver chops the first 16 characters
 * off each line (it assumes colour codes). So the CLI runs silent (-s) with a small preload
 * (`node -r`) that wraps http.Server's 'request' event and prints one JSON line per finished
 * response on stdout: method, path (with query), status, the Range / If-Match / If-None-Match
 * headers asked for, and `bytes`, the body bytes actually written (exact; 0 for HEAD and 304).
 *
 * s3rver 3.7.1 quirks (checked with @aws-sdk/client-s3 3.1173):
 *  - Range: honoured (206, Content-Range; the last byte works; out of range → 416 InvalidRange),
 *    EXCEPT a range ending at byte 0: "bytes=0-0" is read as "bytes=0-" (its parser tests the
 *    end for truthiness) and the whole object comes back as a 206. S3ObjectStore's length check
 *    turns that into 'unavailable'; real S3 returns the one byte.
 *  - If-Match: IGNORED on GET and HEAD — a stale ETag still gets 206 with the new bytes, so the
 *    'changed' path cannot be exercised against s3rver (unit-tested via classifyS3Error).
 *  - If-None-Match: exact string compare with its quoted ETag ('"md5"'): a bare ETag never
 *    matches, so clients must send it quoted; a match gives 304 (the SDK throws, name 'Unknown').
 *  - ETag: '"<hex md5 of the content>"' (quoted), same for equal content re-uploaded.
 *  - Missing key: GET → 404 NoSuchKey; HEAD → 404 with no body (SDK name 'NotFound').
 *    Missing bucket: GET → 404 NoSuchBucket; HEAD → 404 'NotFound'.
 *  - Signatures: V4 signatures are NOT verified; only the access key id is checked. An unknown
 *    key id → 403 InvalidAccessKeyId (HEAD: 403, SDK name 'Unknown'); a wrong secret is accepted.
 *  - VersionId: ignored (always the current object).
 *  - Bucket names must be 3–63 characters (400 InvalidBucketName otherwise).
 *  - It needs --openssl-legacy-provider on Node ≥ 17 (MD4/legacy hashes in its dependencies).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { S3StoreOptions } from '../../gateway/src/objects/s3-store.js';
import { freePort } from './free-port.js';

export interface S3rverRequest {
  method: string;
  /** URL path and query as received, e.g. "/bucket/a/b.bin?x-id=GetObject". */
  path: string;
  status: number;
  /** Body bytes written (0 for HEAD, 304 and most errors' empty bodies). */
  bytes: number;
  range?: string;
  ifMatch?: string;
  ifNoneMatch?: string;
}

export interface TestS3rver {
  endpoint: string;
  port: number;
  /** s3rver's data folder. */
  dir: string;
  /** What S3ObjectStore needs to reach it. */
  clientOptions: S3StoreOptions & Required<Pick<S3StoreOptions, 'endpoint' | 'region' | 'credentials' | 'forcePathStyle'>>;
  /** The gateway config fields that point a gateway at it. */
  gatewayConfig: { objectStore: 's3'; s3Endpoint: string; s3ForcePathStyle: true; s3AccessKeyId: string; s3SecretAccessKey: string; s3Region: string };
  createBucket(name: string): Promise<void>;
  putObject(bucket: string, key: string, bytes: Uint8Array | string): Promise<void>;
  /**
   * Requests served so far, in order of completion (since start or the last clearRequests).
   * Async because the log crosses a pipe: it first sends a marker request and waits for its
   * line, so every request whose reply the test has already seen is included.
   */
  requests(): Promise<S3rverRequest[]>;
  /** Forgets the requests so far (after the log has caught up, as requests() does). */
  clearRequests(): Promise<void>;
  /** Stops the server for good and deletes its data folder (afterAll). */
  stop(): Promise<void>;
  /** Stops the process but keeps port and data: clients now get connection refused (outage tests). */
  halt(): Promise<void>;
  /** Starts it again (stopping it first if running) on the same port and data folder. */
  restart(): Promise<void>;
  /** SIGSTOP / SIGCONT: the server keeps its sockets but stops answering (a hung S3). */
  pause(): void;
  resume(): void;
}

const PRELOAD = `
const http = require('node:http');
const emit = http.Server.prototype.emit;
http.Server.prototype.emit = function (event, req, res) {
  if (event === 'request') {
    let bytes = 0;
    const count = (chunk, encoding) => {
      if (chunk && typeof chunk !== 'function') bytes += Buffer.byteLength(chunk, typeof encoding === 'string' ? encoding : undefined);
    };
    const write = res.write, end = res.end;
    res.write = function (chunk, encoding, cb) { if (req.method !== 'HEAD') count(chunk, encoding); return write.call(this, chunk, encoding, cb); };
    res.end = function (chunk, encoding, cb) { if (req.method !== 'HEAD') count(chunk, encoding); return end.call(this, chunk, encoding, cb); };
    res.on('finish', () => {
      process.stdout.write('@@s3req ' + JSON.stringify({
        method: req.method, path: req.url, status: res.statusCode, bytes,
        range: req.headers['range'], ifMatch: req.headers['if-match'], ifNoneMatch: req.headers['if-none-match'],
      }) + '\\n');
    });
  }
  return emit.apply(this, arguments);
};
`;

const S3RVER_BIN = fileURLToPath(new URL('../../node_modules/s3rver/bin/s3rver.js', import.meta.url));
const START_TIMEOUT_MS = 15_000;
const STOP_TIMEOUT_MS = 5_000;

// The helper's own requests (readiness probe, log markers) carry this query and are not logged.
const HELPER_QUERY = '/?tftpfn-helper=';

function httpGetOk(port: number, tag: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path: HELPER_QUERY + tag, method: 'GET', timeout: 1000 }, (res) => {
      res.resume();
      resolve((res.statusCode ?? 0) > 0);
    });
    req.on('error', () => resolve(false));
    req.on('timeout', () => req.destroy());
    req.end();
  });
}

export async function startS3rver(): Promise<TestS3rver> {
  const top = mkdtempSync(join(tmpdir(), 'tftpfn-s3rver-'));
  const dir = join(top, 'data');
  mkdirSync(dir);
  const preload = join(top, 'count-requests.cjs');
  writeFileSync(preload, PRELOAD);
  const port = await freePort();
  const endpoint = `http://127.0.0.1:${port}`;
  let log: S3rverRequest[] = [];
  const markers = new Set<string>();
  let nextMarker = 0;
  let child: ChildProcess | undefined;
  let stderr = '';

  const launch = async (): Promise<void> => {
    stderr = '';
    const proc = spawn(
      process.execPath,
      ['--openssl-legacy-provider', '-r', preload, S3RVER_BIN, '-d', dir, '-a', '127.0.0.1', '-p', String(port), '-s'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    child = proc;
    let pending = '';
    proc.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      pending += chunk;
      let nl: number;
      while ((nl = pending.indexOf('\n')) >= 0) {
        const line = pending.slice(0, nl);
        pending = pending.slice(nl + 1);
        if (!line.startsWith('@@s3req ')) continue;
        const r = JSON.parse(line.slice(8)) as S3rverRequest;
        if (r.path.startsWith(HELPER_QUERY)) markers.add(r.path.slice(HELPER_QUERY.length));
        else log.push(r);
      }
    });
    proc.stderr!.setEncoding('utf8').on('data', (c: string) => (stderr = (stderr + c).slice(-4000)));
    const deadline = Date.now() + START_TIMEOUT_MS;
    while (Date.now() < deadline) {
      if (proc.exitCode !== null) throw new Error(`s3rver exited with ${proc.exitCode}: ${stderr}`);
      if (await httpGetOk(port, 'ready')) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    proc.kill('SIGKILL');
    throw new Error(`s3rver did not answer on ${endpoint} within ${START_TIMEOUT_MS} ms: ${stderr}`);
  };

  const stopChild = async (): Promise<void> => {
    const proc = child;
    child = undefined;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    proc.kill('SIGCONT'); // a paused server would not act on SIGTERM
    proc.kill('SIGTERM');
    const timer = setTimeout(() => proc.kill('SIGKILL'), STOP_TIMEOUT_MS);
    await exited;
    clearTimeout(timer);
  };

  /** Waits until every reply already seen by a client is in the log: a marker request's line follows them. */
  const catchUp = async (): Promise<void> => {
    const tag = `sync-${nextMarker++}`;
    if (!(await httpGetOk(port, tag))) return; // server down: nothing more will come
    const deadline = Date.now() + STOP_TIMEOUT_MS;
    while (!markers.has(tag) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    if (!markers.delete(tag)) throw new Error('s3rver request log did not catch up');
  };

  try {
    await launch();
  } catch (e) {
    rmSync(top, { recursive: true, force: true });
    throw e;
  }
  // A test process that dies without afterAll must not leave s3rver behind.
  const killOnExit = () => child?.kill('SIGKILL');
  process.once('exit', killOnExit);
  const clientOptions = {
    endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
  };
  // Fixture writes use their own client, so a store's own counters see only its reads (the
  // server's log sees both: filter on method).
  const admin = new S3Client({ ...clientOptions, maxAttempts: 1 });

  return {
    endpoint,
    port,
    dir,
    clientOptions,
    gatewayConfig: { objectStore: 's3', s3Endpoint: endpoint, s3ForcePathStyle: true, s3AccessKeyId: 'S3RVER', s3SecretAccessKey: 'S3RVER', s3Region: 'us-east-1' },
    async createBucket(name) {
      await admin.send(new CreateBucketCommand({ Bucket: name }));
    },
    async putObject(bucket, key, bytes) {
      await admin.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: typeof bytes === 'string' ? Buffer.from(bytes) : bytes }));
    },
    async requests() {
      await catchUp();
      return log.slice();
    },
    async clearRequests() {
      await catchUp();
      log = [];
    },
    stop: async () => {
      process.off('exit', killOnExit);
      admin.destroy();
      await stopChild();
      rmSync(top, { recursive: true, force: true });
    },
    halt: stopChild,
    pause: () => void child?.kill('SIGSTOP'),
    resume: () => void child?.kill('SIGCONT'),
    restart: async () => {
      await stopChild();
      await launch();
    },
  };
}
