/**
 * Runs `tftpfn bench --json` in its own process, so the load generator and the server under test
 * never share an event loop, and returns its parsed result.
 */
import { fileURLToPath } from 'node:url';
import type { LoadResult } from '../client/index.js';
import { ManagedProcess } from './child-process.js';

const tftpfnBin = fileURLToPath(new URL('../../bin/tftpfn.js', import.meta.url));

export interface LoadSpec {
  port: number;
  path: string;
  concurrency: number;
  count?: number;
  durationS?: number;
  blksize?: number;
  windowsize?: number;
  holdMs?: number;
  requestTimeoutS?: number;
  timeoutMs?: number;
}

export function benchArgs(s: LoadSpec): string[] {
  const args = ['bench', `127.0.0.1:${s.port}`, s.path, '--json', '--concurrency', String(s.concurrency)];
  if (s.durationS !== undefined) args.push('--duration', String(s.durationS));
  else args.push('--count', String(s.count ?? 1));
  if (s.blksize !== undefined) args.push('--blksize', String(s.blksize));
  if (s.windowsize !== undefined) args.push('--windowsize', String(s.windowsize));
  if (s.holdMs !== undefined) args.push('--hold-ms', String(s.holdMs));
  if (s.requestTimeoutS !== undefined) args.push('--request-timeout', String(s.requestTimeoutS));
  if (s.timeoutMs !== undefined) args.push('--timeout-ms', String(s.timeoutMs));
  return args;
}

export function describeLoad(s: LoadSpec): string {
  return ['tftpfn', ...benchArgs(s)].join(' ');
}

/**
 * @param onAllHolding called when the client reports every transfer holding after block 1
 */
export async function runLoadClient(spec: LoadSpec, timeoutMs: number, onAllHolding?: () => Promise<void>): Promise<LoadResult> {
  const proc = new ManagedProcess('tftpfn bench', process.execPath, [tftpfnBin, ...benchArgs(spec)]);
  let holdingSeen: Promise<void> | undefined;
  if (onAllHolding) {
    proc.child.stderr?.on('data', () => {
      if (!holdingSeen && proc.stderr.includes('"allHolding"')) holdingSeen = onAllHolding();
    });
  }
  const code = await proc.wait(timeoutMs);
  await holdingSeen;
  const line = proc.stdout.trim().split('\n').pop() ?? '';
  try {
    return JSON.parse(line) as LoadResult;
  } catch {
    throw new Error(`tftpfn bench exited ${code} without a result: ${proc.stderr.trim().slice(-500)}`);
  }
}
