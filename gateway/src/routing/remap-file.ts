/**
 * Reads a remap file from disk at start-up: the only I/O in routing/, kept out of remap.ts so
 * the rules themselves stay pure and testable from strings.
 */
import { readFile } from 'node:fs/promises';
import { parseRemap, RemapParseError, type RemapRule } from './remap.js';

/** Throws with the file name, the line and the fix; a missing file says which one. */
export async function loadRemapFile(file: string): Promise<RemapRule[]> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    throw new Error(`remap file ${file}: cannot read it (${(e as NodeJS.ErrnoException).code ?? 'error'}): check the remap file path in the configuration`, { cause: e });
  }
  try {
    return parseRemap(text);
  } catch (e) {
    if (e instanceof RemapParseError) throw new Error(`${file}: ${e.message}`, { cause: e });
    throw e;
  }
}
