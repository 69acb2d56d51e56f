/**
 * `tftpfn invoke <file> --path P`: run a function once, without UDP, and show what a client
 * would get. The file is bundled first so exactly the code `deploy` would publish runs. It runs
 * through the SDK harness (`invoke`) in the gateway's function sandbox (a child process under
 * Node's permission model, without network or environment: sandbox-invoke-main.ts), so what
 * fails behind the gateway fails here too; `--isolation thread` runs it in a worker thread
 * instead, as the gateway's `isolation: "thread"` does. Either can be killed, so --timeout-ms
 * bounds even a handler stuck in a synchronous loop, and module-level timers the function
 * leaves behind cannot keep the command alive. This file is the command and its steps; the run
 * itself (boot message, sandbox or thread, reply) is invoke-run.ts, the output invoke-print.ts.
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
import { Command, InvalidArgumentError, Option } from 'commander';
import { BUNDLE_FILE, MAP_FILE } from '../runtime/bundle.js';
import { bundleOrReport } from './build.js';
import { integer } from './arg-parsers.js';
import { DEFAULTS } from '../config/defaults.js';
import { print } from './invoke-print.js';
import { runInSandbox, runInWorker, type InvokeFlags } from './invoke-run.js';

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
