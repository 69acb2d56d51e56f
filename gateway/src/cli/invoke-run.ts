/**
 * One run of `tftpfn invoke`: the boot message (invoke-once.ts) built from the flags, sent to a
 * sandboxed child process (sandbox-invoke-main.ts, as the gateway's default isolation) or a
 * worker thread (invoke-thread-main.ts, isolation "thread"), and its one reply, a crash, or the
 * timeout. Either can be killed, so --timeout-ms bounds even a handler stuck in a synchronous
 * loop.
 */
import { spawn } from 'node:child_process';
import type { Socket } from 'node:net';
import { resolve } from 'node:path';
import { Worker } from 'node:worker_threads';
import { FrameDecoder } from '../runtime/frame-codec.js';
import { decodeMessage, encodeMessageFrame } from '../runtime/message-codec.js';
import { MESSAGE_LIMITS } from '../runtime/message-check.js';
import { prepareSandboxDir, probeNetwork, probeNodeDataKb, sandboxCommand } from '../runtime/sandbox-spawn.js';
import { removeTempDir } from '../runtime/temp-dirs.js';
import { SANDBOX_OVERHEAD_MB } from '../runtime/worker-pool.js';
import type { InvokeBoot, InvokeOutcome, InvokeReply } from '../runtime/invoke-once.js';
import { builtModule } from '../runtime/package-root.js';

/** The command's flags, as commander parses them (and run() completes). */
export interface InvokeFlags {
  path: string;
  peer?: string;
  mode: 'octet' | 'netascii';
  kind: 'read' | 'write';
  option?: Record<string, string>;
  var?: Record<string, string>;
  secret?: Record<string, string>;
  root?: string;
  timeoutMs: number;
  out?: string;
  json?: boolean;
  isolation: 'process' | 'thread';
  write?: boolean;
  body?: string;
  /** true: declare the body's size. */
  tsize?: number | true;
  maxUploadBytes: number;
  /** Set by run(): the file the write's body is read from. */
  bodyPath?: string;
}

/** What the run reports (invoke-once.ts), with its body: plain data, since a Response (a stream, a logged object) may not clone. */
export type Outcome = InvokeOutcome & { body: Uint8Array };

export type WorkerMessage =
  | { type: 'result'; outcome: Outcome }
  | { type: 'loadError'; message: string }
  /** Uncaught in user code outside the handler's promise (a timer that throws), or process.exit(). */
  | { type: 'crashed'; message: string };

/** The boot message of one run (invoke-once.ts), for either isolation. */
function invokeBoot(bundlePath: string, flags: InvokeFlags, bucketsDir: string): InvokeBoot {
  return {
    t: 'boot',
    bundlePath,
    request: { path: flags.path, kind: flags.kind, mode: flags.mode, options: flags.option ?? {}, ...(flags.peer !== undefined ? { peer: { address: flags.peer } } : {}) },
    env: { vars: flags.var ?? {}, secrets: flags.secret ?? {} },
    root: resolve(flags.root ?? '.'),
    bucketsDir,
    ...(flags.kind === 'write' ? { maxUploadBytes: flags.maxUploadBytes, ...(flags.bodyPath !== undefined ? { bodyPath: flags.bodyPath } : {}) } : {}),
  };
}

/** Either reply of invoke-once.ts, as this command reports it. */
function fromReply(reply: InvokeReply): WorkerMessage {
  return reply.t === 'loadError' ? { type: 'loadError', message: reply.message } : { type: 'result', outcome: { ...reply.outcome, body: reply.body } };
}

/** The run in a worker thread (invoke-thread-main.ts), as the gateway's isolation "thread". */
export function runInWorker(bundlePath: string, flags: InvokeFlags): Promise<WorkerMessage | 'timeout'> {
  const workerData = invokeBoot(bundlePath, flags, resolve('buckets'));
  return new Promise((resolvePromise) => {
    const worker = new Worker(builtModule('gateway/src/runtime/invoke-thread-main'), { workerData });
    const timer = setTimeout(() => {
      void worker.terminate();
      resolvePromise('timeout');
    }, flags.timeoutMs);
    worker.once('message', (m: InvokeReply) => {
      clearTimeout(timer);
      void worker.terminate();
      resolvePromise(fromReply(m));
    });
    worker.once('error', (e) => {
      clearTimeout(timer);
      resolvePromise({ type: 'crashed', message: e.stack ?? String(e) });
    });
    // After a result or an error this is a no-op: the promise is settled already.
    worker.once('exit', (code) => {
      clearTimeout(timer);
      resolvePromise({ type: 'crashed', message: `its thread exited (code ${code}) before the handler answered; does it call process.exit()?` });
    });
  });
}

/** The sandboxed run: one boot message in, one reply out (sandbox-invoke-main.ts). */
export async function runInSandbox(bundlePath: string, flags: InvokeFlags): Promise<WorkerMessage | 'timeout'> {
  const root = resolve(flags.root ?? '.');
  const bucketsDir = resolve('buckets');
  // The author's own user: the sandbox is here to behave like the gateway's, not to protect anyone.
  const sandbox = await prepareSandboxDir(bundlePath, undefined, 'gateway/src/runtime/sandbox-invoke-main');
  const net = probeNetwork();
  // The harness reads file() and s3Object() answers itself (the gateway does that outside the sandbox).
  const command = sandboxCommand({ sandboxDir: sandbox.dir, heapMb: 512, memoryMb: 512 + SANDBOX_OVERHEAD_MB, user: undefined, ...net, allowRead: [`${root}/`, `${bucketsDir}/`, ...(flags.bodyPath !== undefined ? [flags.bodyPath] : [])], nodeDataKb: probeNodeDataKb() });
  const child = spawn(command.file, [...command.args], { stdio: ['ignore', 'inherit', 'pipe', 'pipe'], env: {}, cwd: sandbox.dir });
  const pipe = child.stdio[3] as Socket;
  let tail = '';
  child.stderr!.on('data', (b: Buffer) => {
    process.stderr.write(b);
    tail = (tail + b.toString()).slice(-8192);
  });
  const boot = invokeBoot(sandbox.bundlePath, flags, bucketsDir);
  pipe.write(encodeMessageFrame(boot));
  try {
    return await new Promise<WorkerMessage | 'timeout'>((resolvePromise) => {
      const timer = setTimeout(() => resolvePromise('timeout'), flags.timeoutMs);
      const decoder = new FrameDecoder(MESSAGE_LIMITS.frameBytes);
      pipe.on('data', (chunk: Buffer) => {
        decoder.push(chunk);
        let frame;
        try {
          frame = decoder.next();
        } catch (e) {
          clearTimeout(timer);
          return resolvePromise({ type: 'crashed', message: (e as Error).message });
        }
        if (!frame) return;
        clearTimeout(timer);
        resolvePromise(fromReply(decodeMessage(frame) as InvokeReply));
      });
      pipe.on('error', () => {});
      // After a reply this is a no-op: the promise is settled already.
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        const uncaught = tail.trim();
        resolvePromise({
          type: 'crashed',
          message: code === 1 && uncaught ? uncaught : `its process exited (${signal ? `signal ${signal}` : `code ${code}`}) before the handler answered; does it call process.exit()?`,
        });
      });
    });
  } finally {
    child.kill('SIGKILL');
    removeTempDir(sandbox.dir);
  }
}
