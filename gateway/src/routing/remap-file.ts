/**
 * Reads a remap file from disk at start-up: the only I/O in routing/, kept out of remap.ts so
 * the rules themselves stay pure and testable from strings.
 */
import { readFileSync } from 'node:fs';
import { ConfigError } from '../config/load.js';
import { parseRemap, RemapParseError, type RemapRule } from './remap.js';

/**
 * Reads and parses the remap file; errors name the field, the file, the line and the fix.
 * Synchronous like the rest of start-up (folderHandler's stat): it runs once, before any socket.
 */
export function readRemapFile(file: string): RemapRule[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new ConfigError(`field "remapFile": cannot read ${file} (${(e as NodeJS.ErrnoException).code ?? 'error'}): check the path`);
  }
  try {
    return parseRemap(text);
  } catch (e) {
    if (e instanceof RemapParseError) throw new ConfigError(`field "remapFile": ${file}: ${e.message}`);
    throw e;
  }
}
