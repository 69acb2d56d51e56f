/**
 * Builds the test fixture functions into bundles on disk, as the gateway loads them, and
 * captures log lines so tests can assert on what the runtime logged.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino, { type Logger } from 'pino';
import { BUNDLE_FILE, bundleFunction, MAP_FILE } from '../../gateway/src/runtime/bundle.js';
import type { FunctionRequest } from '../../sdk/contract.js';
import { normalizePath } from '../../gateway/src/protocol/path.js';
import type { TftpRequest } from '../../gateway/src/handlers/request.js';

export const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'functions');

/** Bundles a fixture (optionally with text replaced first) into a fresh folder; returns the bundle path. */
export async function buildFixture(name: string, replace: Record<string, string> = {}): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), `tftpfn-fixture-${name}-`));
  let entry = join(FIXTURES, `${name}.ts`);
  if (Object.keys(replace).length > 0) {
    let src = readFileSync(entry, 'utf8');
    for (const [from, to] of Object.entries(replace)) src = src.split(from).join(to);
    // Kept beside the original so 'tftpfn/sdk' resolves the same way.
    entry = join(FIXTURES, `.${name}-${process.pid}-${Math.random().toString(36).slice(2)}.ts`);
    writeFileSync(entry, src);
  }
  const temp = entry !== join(FIXTURES, `${name}.ts`);
  const bundle = await bundleFunction(entry).finally(() => temp && rmSync(entry, { force: true }));
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, BUNDLE_FILE), bundle.code);
  writeFileSync(join(dir, MAP_FILE), bundle.map);
  return join(dir, BUNDLE_FILE);
}

export interface CapturedLog {
  logger: Logger;
  lines: Record<string, unknown>[];
  text(): string;
}

export function captureLog(level = 'debug'): CapturedLog {
  const lines: Record<string, unknown>[] = [];
  const logger = pino({ level }, { write: (s: string) => void lines.push(JSON.parse(s) as Record<string, unknown>) });
  return { logger, lines, text: () => lines.map((l) => JSON.stringify(l)).join('\n') };
}

let seq = 0;
export function fnRequest(path: string, options: Record<string, string> = {}): FunctionRequest {
  return {
    id: `t-${++seq}`,
    kind: 'read',
    path,
    rawPath: path,
    mode: 'octet',
    options,
    peer: { address: '127.0.0.1', port: 40000 + (seq % 1000), family: 'IPv4' },
    local: { address: '127.0.0.1', port: 69, family: 'IPv4' },
    mac: undefined,
  };
}

/** Polls until `check` is true or `ms` pass (test/helpers/scratch.ts, one copy for every test). */
export { eventually } from './scratch.js';

let requestSeq = 0;
/** A gateway-side read request for `path`, as a handler receives it. */
export function tftpRequest(path: string): TftpRequest {
  return {
    id: `r${++requestSeq}`,
    kind: 'read',
    path: normalizePath(path),
    mode: 'octet',
    options: {},
    peer: { address: '127.0.0.1', port: 5000, family: 'IPv4' },
    local: { address: '127.0.0.1', port: 69, family: 'IPv4' },
  };
}
