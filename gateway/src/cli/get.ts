/**
 * `tftpfn get HOST[:PORT] PATH`: download one file, with a progress bar on a terminal.
 * The file is written to a temporary name beside the target and renamed when complete, so a
 * failed transfer never leaves a truncated file behind.
 */
import { closeSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Command } from 'commander';
import { get } from '../../../client/get.js';
import { parseHostPort } from '../../../client/host-port.js';
import { integer } from './arg-parsers.js';

const MiB = 1024 * 1024;

interface GetFlags {
  output?: string;
  blksize?: number;
  windowsize?: number;
  timeoutMs?: number;
  retries?: number;
  netascii?: boolean;
  progress?: boolean;
}

export function getCommand(): Command {
  return new Command('get')
    .description('download a file over TFTP (RRQ)')
    .argument('<target>', 'server as HOST[:PORT]; IPv6 in brackets, e.g. [::1]:6969 (port defaults to 69)')
    .argument('<path>', 'file to request')
    .option('-o, --output <file>', 'where to write it; "-" for standard output (default: the basename of PATH)')
    .option('--blksize <bytes>', 'blksize option to request (RFC 2348), 8..65464', integer(8, 65464))
    .option('--windowsize <blocks>', 'windowsize option to request (RFC 7440), 1..65535', integer(1, 65535))
    .option('--timeout-ms <ms>', 'retransmit timeout (default 1000)', integer(1, 255_000))
    .option('--retries <n>', 'timeouts in a row before giving up (default 5)', integer(0, 100))
    .option('--netascii', 'netascii mode (line ends translated)')
    .option('--no-progress', 'no progress bar even on a terminal')
    .addHelpText('after', '\nExamples:\n  tftpfn get 127.0.0.1:6969 hello.txt\n  tftpfn get [::1]:6969 vmlinuz -o /tmp/vmlinuz --blksize 1468 --windowsize 64')
    .action(async (target: string, path: string, flags: GetFlags) => {
      let hp;
      try {
        hp = parseHostPort(target);
      } catch (e) {
        console.error(`tftpfn get: ${(e as Error).message}`);
        process.exit(2);
      }
      process.exitCode = await download(hp.host, hp.port ?? 69, path, flags);
    });
}

async function download(host: string, port: number, path: string, flags: GetFlags): Promise<number> {
  const toStdout = flags.output === '-';
  const target = flags.output ?? (basename(path) || 'download');
  const temp = `${target}.tftpfn-part`;
  const fd = toStdout ? 1 : openSync(temp, 'w');
  const showProgress = flags.progress !== false && process.stderr.isTTY && !toStdout;
  const bar = showProgress ? new ProgressBar() : undefined;
  try {
    const result = await get({
      host,
      port,
      path,
      blksize: flags.blksize,
      windowsize: flags.windowsize,
      tsize: true,
      timeoutMs: flags.timeoutMs,
      retries: flags.retries,
      mode: flags.netascii ? 'netascii' : 'octet',
      sink: { write: (chunk: Uint8Array) => writeSync(fd, chunk) },
      onProgress: bar ? (bytes, oack) => bar.update(bytes, oack?.tsize ? Number(oack.tsize) : undefined) : undefined,
    });
    bar?.done(result.bytes);
    if (!toStdout) {
      closeSync(fd);
      renameSync(temp, target);
    }
    const secs = result.durationMs / 1000;
    if (!toStdout) {
      console.error(
        `${target}: ${result.bytes} bytes in ${secs.toFixed(2)} s (${(result.bytes / MiB / Math.max(secs, 1e-6)).toFixed(1)} MiB/s, blksize ${result.blockSize}, windowsize ${result.windowSize}, ${result.retransmits} retransmits)`,
      );
    }
    return 0;
  } catch (e) {
    bar?.clear();
    if (!toStdout) {
      closeSync(fd);
      rmSync(temp, { force: true });
    }
    const err = e as Error & { tftpCode?: number };
    const why = err.tftpCode !== undefined ? `server answered ERROR ${err.tftpCode}: ${err.message}` : err.message;
    console.error(`tftpfn get: ${path} from ${host}:${port} failed: ${why}`);
    return 1;
  }
}

/** One line on stderr, redrawn at most ten times a second. */
class ProgressBar {
  private total: number | undefined;
  private lastDraw = 0;
  private readonly started = performance.now();

  update(bytes: number, total: number | undefined): void {
    this.total = total;
    const now = performance.now();
    if (now - this.lastDraw < 100) return;
    this.lastDraw = now;
    this.draw(bytes, now);
  }

  done(bytes: number): void {
    this.draw(bytes, performance.now());
    process.stderr.write('\n');
  }

  clear(): void {
    process.stderr.write('\r\x1b[K');
  }

  private draw(bytes: number, now: number): void {
    const rate = bytes / MiB / Math.max((now - this.started) / 1000, 1e-3);
    const width = 30;
    let line: string;
    if (this.total) {
      const frac = Math.min(1, bytes / this.total);
      const filled = Math.round(frac * width);
      line = `[${'='.repeat(filled)}${' '.repeat(width - filled)}] ${(frac * 100).toFixed(0).padStart(3)}% ${(bytes / MiB).toFixed(1)}/${(this.total / MiB).toFixed(1)} MiB`;
    } else {
      line = `${(bytes / MiB).toFixed(1)} MiB`;
    }
    process.stderr.write(`\r\x1b[K${line} ${rate.toFixed(1)} MiB/s`);
  }
}
