/** Captured output of a control-plane verb (cli/control-cli.ts Io), for assertions. */
import type { Io } from '../../../gateway/src/cli/control-cli.js';

export interface CapturedIo extends Io {
  readonly stdout: string[];
  readonly stderr: string[];
  text(): string;
}

export function captureIo(isTTY = false): CapturedIo {
  const stdout: string[] = [];
  const stderr: string[] = [];
  return { stdout, stderr, isTTY, out: (l) => void stdout.push(l), err: (l) => void stderr.push(l), text: () => [...stdout, ...stderr].join('\n') };
}
