/**
 * `tftpfn invoke <file> --path P`: run a function once, without UDP, and show what a client
 * would get. The file is bundled first so exactly the code `deploy` would publish runs. It runs
 * through the SDK harness (`invoke`) in the gateway's function sandbox (a child process under
 * Node's permission model, without network or environment: sandbox-invoke-main.ts), so what
 * fails behind the gateway fails here too; `--isolation thread` runs it in a worker thread
 * instead, as the gateway's `isolation: "thread"` does. Either can be killed, so --timeout-ms
 * bounds even a handler stuck in a synchronous loop, and module-level timers the function
 * leaves behind cannot keep the command alive.
 *
 * A write (`--write`, or `--body FILE`, `--body -` for stdin) runs as the gateway runs a WRQ
 * with `writes: true`: the body goes to the function as request.body, in the gateway's 64 KiB
 * messages with its credit flow (the harness's feedBody), `--tsize` declares the size as a
 * client's RFC 2349 tsize does, and `--max-upload-bytes` is the route's maxUploadBytes.
 *
 * Exit codes: 0 the client would get data (or its upload would be taken: accepted, s3Put,
 * discard), 1 it would get an ERROR packet (or the handler timed out), 2 usage errors and
 * functions that cannot be bundled or loaded.
 */
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { isIP } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { Command, InvalidArgumentError, Option } from 'commander';
import { spawn } from 'node:child_process';
import type { Socket } from 'node:net';
import { BUNDLE_FILE, MAP_FILE } from '../runtime/bundle.js';
import { FrameDecoder } from '../runtime/frame-codec.js';
import { decodeMessage, encodeMessageFrame } from '../runtime/message-codec.js';
import { MESSAGE_LIMITS } from '../runtime/message-check.js';
import { prepareSandboxDir, probeNetwork, probeNodeDataKb, sandboxCommand } from '../runtime/sandbox-spawn.js';
import { removeTempDir } from '../runtime/temp-dirs.js';
import { SANDBOX_OVERHEAD_MB } from '../runtime/worker-pool.js';
import type { InvokeBoot, InvokeOutcome, InvokeReply } from '../runtime/invoke-once.js';
import { builtModule } from '../runtime/package-root.js';
import { bundleOrReport, formatBytes } from './build.js';
import { integer } from './arg-parsers.js';
import { DEFAULTS } from '../config/defaults.js';

interface InvokeFlags {
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
type Outcome = InvokeOutcome & { body: Uint8Array };

type WorkerMessage =
  | { type: 'result'; outcome: Outcome }
  | { type: 'loadError'; message: string }
  /** Uncaught in user code outside the handler's promise (a timer that throws), or process.exit(). */
  | { type: 'crashed'; message: string };

/** Bodies up to this size that are printable text are shown whole; others as a hex preview. */
const TEXT_LIMIT = 4096;
const PREVIEW_BYTES = 256;

function keyValue(what: string) {
  return (raw: string, previous: Record<string, string> = {}): Record<string, string> => {
    const eq = raw.indexOf('=');
    if (eq <= 0) throw new InvalidArgumentError(`expected ${what}=VALUE, e.g. ${what === 'k' ? 'tsize=0' : 'TIMEOUT=5'}`);
    return { ...previous, [raw.slice(0, eq)]: raw.slice(eq + 1) };
  };
}

export function invokeCommand(): Command {
  return new Command('invoke')
    .description('run a function once (bundled, in the gateway\'s function sandbox) and show what a TFTP client would get')
    .argument('<file>', "the function's source file, or a folder with an index.ts")
    .requiredOption('-p, --path <path>', 'the filename the client asks for')
    .option('--peer <ip>', 'client address (default 192.0.2.10)')
    .addOption(new Option('--mode <mode>', 'transfer mode').choices(['octet', 'netascii']).default('octet'))
    .addOption(new Option('--kind <kind>', 'read (RRQ) or write (WRQ)').choices(['read', 'write']).default('read'))
    .option('--option <k=v>', 'a TFTP option the client sent, e.g. tsize=0 (repeatable)', keyValue('k'))
    .option('--var <K=V>', 'an env.vars entry (repeatable)', keyValue('K'))
    .option('--secret <K=V>', 'an env.secrets entry (repeatable)', keyValue('K'))
    .option('--root <dir>', 'where file() responses are read from (default: the current folder)')
    .option('--timeout-ms <ms>', 'give up on a handler that has not finished after this long', integer(1, 3_600_000), 10_000)
    .option('-o, --out <file>', 'write the whole body to this file')
    .option('--json', 'print the result as one JSON object (body as base64)')
    .option('--write', 'a write request (WRQ): the same as --kind write')
    .option('--body <file>', 'a write: the bytes the client uploads, from FILE, or - for stdin (implies --write)')
    .option('--tsize [bytes]', 'a write: the size the client declares (RFC 2349 tsize); without a value, the body\'s size', integer(0, Number.MAX_SAFE_INTEGER))
    .option('--max-upload-bytes <n>', `a write: the route's maxUploadBytes (default ${DEFAULTS.maxUploadBytes})`, integer(0, Number.MAX_SAFE_INTEGER), DEFAULTS.maxUploadBytes)
    .addOption(new Option('--isolation <how>', 'run it as the gateway does by default (a sandboxed process) or in a worker thread (isolation "thread")').choices(['process', 'thread']).default('process'))
    .addHelpText(
      'after',
      [
        '',
        'Exit status: 0 the client would get data (or its upload would be taken), 1 it would get an',
        'ERROR packet (or the handler timed out), 2 bad arguments or a function that cannot be',
        'bundled or loaded.',
        '',
        'Examples:',
        '  tftpfn invoke functions/grub --path grub.cfg-01-aa-bb-cc-dd-ee-ff',
        '  tftpfn invoke hello.ts --path boot.ipxe --peer 10.0.0.7 --var TIMEOUT=5 --option tsize=0',
        '  tftpfn invoke kernel.ts --path vmlinuz --out /tmp/vmlinuz',
        '  tftpfn invoke functions/config-backup --path sw1-confg --peer 10.0.0.7 --body running-config --tsize',
        '  tftpfn invoke backup.ts --path dump.bin --body - --max-upload-bytes 1048576 < dump.bin',
      ].join('\n'),
    )
    // Usage errors exit 2 here, so a script can tell them from an ERROR response (1).
    .exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 2))
    .action(async (file: string, flags: InvokeFlags) => {
      const code = await run(file, flags);
      // Flushed before exiting: the function may have left timers that would keep us alive.
      await new Promise<void>((r) => process.stdout.write('', () => r()));
      process.exit(code);
    });
}

async function run(file: string, flags: InvokeFlags): Promise<number> {
  if (flags.peer !== undefined && !isIP(flags.peer)) {
    console.error(`tftpfn invoke: --peer ${flags.peer} is not an IPv4 or IPv6 address`);
    return 2;
  }
  if (flags.body !== undefined || flags.write) flags.kind = 'write';
  if (flags.kind !== 'write' && (flags.tsize !== undefined || flags.body !== undefined)) {
    console.error('tftpfn invoke: --tsize and --body describe an upload; add --write (or --kind write)');
    return 2;
  }
  const bundle = await bundleOrReport('invoke', file);
  if (!bundle) return 2;
  const dir = await mkdtemp(join(tmpdir(), 'tftpfn-invoke-'));
  try {
    const upload = await bodyFile(flags, dir);
    if (typeof upload === 'string') {
      console.error(`tftpfn invoke: ${upload}`);
      return 2;
    }
    if (upload) {
      flags.bodyPath = upload.path;
      if (flags.tsize !== undefined) flags.option = { ...flags.option, tsize: String(flags.tsize === true ? upload.bytes : flags.tsize) };
    }
    // The code runs byte for byte as bundled; only a trailing comment is added when missing, and
    // the map's sources made absolute (esbuild writes them relative to the current folder, not
    // to this temp folder), so a stack trace names the author's file and line.
    const link = `//# sourceMappingURL=${MAP_FILE}`;
    await writeFile(join(dir, BUNDLE_FILE), bundle.code.includes(link) ? bundle.code : `${bundle.code}\n${link}\n`);
    await writeFile(join(dir, MAP_FILE), absoluteSources(bundle.map));
    const message = flags.isolation === 'thread' ? await runInWorker(join(dir, BUNDLE_FILE), flags) : await runInSandbox(join(dir, BUNDLE_FILE), flags);
    if (message === 'timeout') {
      const text = `handler did not finish within ${flags.timeoutMs} ms (the gateway would end the transfer with ERROR 0)`;
      if (flags.json) console.log(JSON.stringify({ timedOut: true, timeoutMs: flags.timeoutMs, error: text }));
      else console.error(`tftpfn invoke: ${text}`);
      return 1;
    }
    if (message.type === 'loadError') {
      console.error(`tftpfn invoke: ${bundle.entry} cannot be loaded: ${message.message}`);
      return 2;
    }
    if (message.type === 'crashed') {
      console.error(`tftpfn invoke: the function crashed its worker (the gateway would send ERROR 0): ${message.message}`);
      return 1;
    }
    const outcome = message.outcome;
    const body = Buffer.from(outcome.body);
    if (flags.out !== undefined) await writeFile(flags.out, body);
    print(outcome, body, flags);
    return outcome.errorCode === undefined ? 0 : 1;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * A write's body as a file the run can read (the sandbox may read it: allowRead): the --body
 * file itself, or stdin copied into the run's temporary folder. A message when it cannot be read.
 */
async function bodyFile(flags: InvokeFlags, dir: string): Promise<{ path?: string; bytes: number } | string | undefined> {
  if (flags.kind !== 'write') return undefined;
  let path = flags.body === undefined ? undefined : resolve(flags.body);
  if (flags.body === '-') {
    path = join(dir, 'stdin.body');
    await pipeline(process.stdin, createWriteStream(path));
  }
  // No --body: an empty upload (a client putting an empty file).
  if (path === undefined) return { bytes: 0 };
  try {
    const s = await stat(path);
    if (!s.isFile()) return `--body ${flags.body} is not a file; give a file, or - to read stdin`;
    return { path, bytes: s.size };
  } catch (e) {
    return `--body ${flags.body} cannot be read (${(e as NodeJS.ErrnoException).code ?? String(e)}); give a file, or - to read stdin`;
  }
}

function absoluteSources(map: string): string {
  const parsed = JSON.parse(map) as { sources?: string[] };
  parsed.sources = parsed.sources?.map((s) => pathToFileURL(resolve(s)).href);
  return JSON.stringify(parsed);
}

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
function runInWorker(bundlePath: string, flags: InvokeFlags): Promise<WorkerMessage | 'timeout'> {
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
async function runInSandbox(bundlePath: string, flags: InvokeFlags): Promise<WorkerMessage | 'timeout'> {
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

function print(o: Outcome, body: Buffer, flags: InvokeFlags): void {
  const text = printableText(body);
  if (flags.json) {
    const { body: _, ...rest } = o;
    console.log(JSON.stringify({ ...rest, body: body.toString('base64'), ...(text !== undefined ? { bodyText: text } : {}) }));
    return;
  }
  const none = o.thrown === undefined ? 'none (refused before the function answered)' : 'none (the handler threw, or returned something that is not a Response)';
  const lines = [`response: ${o.kind === 'none' ? none : o.kind}`];
  if (flags.kind === 'write') lines.push(`declared tsize: ${flags.option?.tsize ?? 'none'}`, ...writeLines(o));
  else lines.push(`tsize: ${o.tsize ?? 'none'}`, `size: ${formatBytes(o.size)}`);
  if (o.errorCode !== undefined) lines.push(`error: ${o.errorCode} ${o.errorMessage ?? ''} (the client gets an ERROR packet${o.size ? ' after the bytes above' : ''})`);
  if (o.thrown !== undefined) lines.push('thrown:', ...o.thrown.split('\n').map((l) => `  ${l}`));
  lines.push(o.logs.length ? 'logs:' : 'logs: (none)', ...o.logs.map((l) => `  ${l}`));
  if (flags.out !== undefined) lines.push(`body: written to ${flags.out}`);
  if (flags.kind === 'write') {
    // A write's answer has no body: the lines above say where the upload went.
  } else if (body.length === 0) lines.push('body: (empty)');
  else if (text !== undefined) lines.push('body:', text.endsWith('\n') ? text.slice(0, -1) : text);
  else lines.push(`body (first ${Math.min(PREVIEW_BYTES, body.length)} of ${body.length} bytes):`, ...hexPreview(body.subarray(0, PREVIEW_BYTES)));
  console.log(lines.join('\n'));
}

/** What a write's answer means for the upload, in the words of docs/UPLOADS.md. */
function writeLines(o: Outcome): string[] {
  const lines: string[] = [];
  if (o.received !== undefined) lines.push(`received: ${formatBytes(o.received)} (handed to the function through request.body)`);
  if (o.errorCode !== undefined) return lines;
  if (o.kind === 'accepted') lines.push('upload: accepted (the function took the bytes; the client gets the final ACK)');
  else if (o.kind === 'discard') lines.push('upload: discarded (received and dropped; the client gets the final ACK)');
  else if (o.stored) lines.push(`upload: stored as s3://${o.stored.bucket}/${o.stored.key}, ${formatBytes(o.stored.size)}${o.stored.contentType ? `, ${o.stored.contentType}` : ''} (the gateway puts it in the object store)`);
  return lines;
}

/** The body as text when it is short, valid UTF-8 and has no control characters but tab and line ends. */
function printableText(body: Buffer): string | undefined {
  if (body.length === 0 || body.length > TEXT_LIMIT) return undefined;
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(body);
  } catch {
    return undefined;
  }
  // eslint-disable-next-line no-control-regex
  return /[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]/.test(text) ? undefined : text;
}

/** hexdump -C style: offset, 16 bytes in hex, then the printable ASCII. */
function hexPreview(bytes: Buffer): string[] {
  const out: string[] = [];
  for (let off = 0; off < bytes.length; off += 16) {
    const row = bytes.subarray(off, off + 16);
    const hex = [...row].map((b) => b.toString(16).padStart(2, '0'));
    const left = hex.slice(0, 8).join(' ');
    const right = hex.slice(8).join(' ');
    const ascii = [...row].map((b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '.')).join('');
    out.push(`${off.toString(16).padStart(8, '0')}  ${left.padEnd(23)}  ${right.padEnd(23)}  |${ascii}|`);
  }
  return out;
}
