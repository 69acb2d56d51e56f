/**
 * `tftpfn bench HOST[:PORT] PATH`: a TFTP load generator. Runs `--concurrency` downloads at a
 * time until `--count` requests or `--duration` seconds, discarding the data, and reports
 * completions, failures, throughput and latency percentiles.
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import { parseHostPort } from '../../../client/host-port.js';
import { runLoad, type LoadResult } from '../../../client/load.js';
import { integer } from './arg-parsers.js';

function seconds(raw: string): number {
  const n = Number(raw);
  if (!(n > 0 && n <= 86_400)) throw new InvalidArgumentError('expected seconds, more than 0 and at most 86400');
  return n;
}

interface BenchFlags {
  concurrency: number;
  duration?: number;
  count?: number;
  blksize?: number;
  windowsize?: number;
  timeoutMs: number;
  retries: number;
  requestTimeout?: number;
  holdMs?: number;
  json?: boolean;
}

const fmt = (n: number, digits = 1): string => (Number.isFinite(n) ? n.toFixed(digits) : '-');

function printHuman(target: string, path: string, r: LoadResult): void {
  const l = r.latency;
  const lines = [
    `target        ${target} ${path}`,
    `negotiated    ${r.negotiated ? `blksize ${r.negotiated.blockSize}, windowsize ${r.negotiated.windowSize}${r.negotiated.oack ? '' : ' (server sent no OACK)'}` : '-'}`,
    `completed     ${r.requests} requests in ${fmt(r.elapsedMs / 1000, 2)} s`,
    `failures      ${r.failures}${r.failures ? ` (${Object.entries(r.failuresByCode).map(([k, v]) => `${k}: ${v}`).join(', ')})` : ''}`,
    `bytes         ${r.bytes}`,
    `throughput    ${fmt(r.throughputMiBps, 2)} MiB/s`,
    `requests/s    ${fmt(r.requestsPerSec, 1)}`,
    `latency ms    p50 ${fmt(l.p50Ms, 2)}  p90 ${fmt(l.p90Ms, 2)}  p99 ${fmt(l.p99Ms, 2)}  max ${fmt(l.maxMs, 2)}`,
    `retransmits   ${r.retransmits}`,
  ];
  process.stdout.write(lines.join('\n') + '\n');
}

export function benchCommand(): Command {
  return new Command('bench')
    .description('generate TFTP read load against a server and report throughput and latency')
    .argument('<target>', 'server as HOST[:PORT]; IPv6 in brackets, e.g. [::1]:6969 (port defaults to 69)')
    .argument('<path>', 'file to request')
    .option('-c, --concurrency <n>', 'transfers in flight at once', integer(1, 10_000), 1)
    .addOption(new Option('-d, --duration <seconds>', 'keep issuing requests for this long').argParser(seconds).conflicts('count'))
    .addOption(new Option('-n, --count <n>', 'issue this many requests in total').argParser(integer(1, 100_000_000)))
    .option('--blksize <bytes>', 'blksize option to request (RFC 2348), 8..65464', integer(8, 65464))
    .option('--windowsize <blocks>', 'windowsize option to request (RFC 7440)', integer(1, 65535))
    .option('--timeout-ms <ms>', 'client retransmit timeout', integer(1, 600_000), 1000)
    .option('--retries <n>', 'timeouts in a row before a transfer fails', integer(0, 100), 5)
    .option('--request-timeout <seconds>', 'timeout option to request from the server (RFC 2349), 1..255', integer(1, 255))
    .option('--hold-ms <ms>', 'after block 1, wait this long before ACKing (keeps sessions open, for memory tests)', integer(1, 600_000))
    .option('--json', 'print one JSON object instead of a table')
    .addHelpText(
      'after',
      `
Examples:
  tftpfn bench 127.0.0.1:6969 big.bin --blksize 1468 --windowsize 64 --count 1
  tftpfn bench [::1]:6969 small.txt --concurrency 20 --duration 10 --json
Without --count or --duration one request is made.`,
    )
    .action(async (target: string, path: string, flags: BenchFlags) => {
      let host: string;
      let port: number;
      try {
        const hp = parseHostPort(target);
        host = hp.host;
        port = hp.port ?? 69;
      } catch (e) {
        process.stderr.write(`tftpfn bench: ${(e as Error).message}\n`);
        process.exitCode = 2;
        return;
      }
      const result = await runLoad({
        host,
        port,
        path,
        concurrency: flags.concurrency,
        count: flags.duration === undefined ? (flags.count ?? 1) : undefined,
        durationS: flags.duration,
        blksize: flags.blksize,
        windowsize: flags.windowsize,
        timeoutMs: flags.timeoutMs,
        retries: flags.retries,
        timeoutSeconds: flags.requestTimeout,
        holdAfterFirstBlockMs: flags.holdMs,
        // A line on stderr lets a harness measure the server while every session is open.
        onAllHolding: flags.holdMs ? (n) => process.stderr.write(`${JSON.stringify({ event: 'allHolding', count: n })}\n`) : undefined,
      });
      if (flags.json) process.stdout.write(`${JSON.stringify(result)}\n`);
      else printHuman(target, path, result);
      if (result.requests === 0) process.exitCode = 1;
    });
}
