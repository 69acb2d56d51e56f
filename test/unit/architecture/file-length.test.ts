/**
 * "One concept per file, files that stay small" (STYLE.md; issue 10's done-means): a source file
 * over 300 lines either splits along its seams or says at its top why it does not, in the form
 * `(About N lines on purpose: <why>.)`, within its first 40 lines. This keeps the rule from
 * wearing off as features land; the reason must be honest, and N near the file's real length.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const REPO = fileURLToPath(new URL('../../../', import.meta.url));
/** The product's source: the gateway, the SDK authors bundle, and the client. */
const ROOTS = ['gateway/src', 'sdk', 'client'];
const MAX_LINES = 300;
const REASON = /\(About (\d+) lines on purpose: [^)]{20,}/;
/** How far a stated length may drift before the reason has to be read again. */
const STATED_SLACK = 0.2;

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(path.join(REPO, dir), { withFileTypes: true })) {
    const rel = path.posix.join(dir, entry.name);
    if (entry.isDirectory()) {
      if (entry.name !== 'node_modules') out.push(...sourceFiles(rel));
    } else if (/\.(ts|mts|mjs)$/.test(entry.name) && !entry.name.endsWith('.d.ts')) out.push(rel);
  }
  return out;
}

const lineCount = (text: string) => text.split('\n').length - (text.endsWith('\n') ? 1 : 0);

/** The long files that do not give a reason, or whose stated length no longer fits. */
function unexplainedLongFiles(files: Array<{ name: string; text: string }>): string[] {
  const found: string[] = [];
  for (const { name, text } of files) {
    const lines = lineCount(text);
    if (lines <= MAX_LINES) continue;
    const reason = REASON.exec(text.split('\n').slice(0, 40).join('\n'));
    if (!reason) found.push(`${name}: ${lines} lines, no "(About N lines on purpose: …)" at its top`);
    else if (Math.abs(Number(reason[1]) - lines) > lines * STATED_SLACK) found.push(`${name}: says about ${reason[1]} lines, has ${lines}`);
  }
  return found;
}

describe('architecture: file length', () => {
  it('file length: the checker flags a long file without a reason and one whose stated length drifted', () => {
    const long = (head: string) => `${head}\n${'x;\n'.repeat(330)}`;
    expect(unexplainedLongFiles([{ name: 'short.ts', text: 'x;\n'.repeat(300) }])).toEqual([]);
    expect(unexplainedLongFiles([{ name: 'bare.ts', text: long('// nothing said') }])).toEqual(['bare.ts: 331 lines, no "(About N lines on purpose: …)" at its top']);
    expect(unexplainedLongFiles([{ name: 'ok.ts', text: long('/* (About 330 lines on purpose: a pure state machine kept with its theory.) */') }])).toEqual([]);
    expect(unexplainedLongFiles([{ name: 'old.ts', text: long('/* (About 200 lines on purpose: a pure state machine kept with its theory.) */') }])).toEqual(['old.ts: says about 200 lines, has 331']);
    expect(unexplainedLongFiles([{ name: 'thin.ts', text: long('/* (About 330 lines on purpose: long.) */') }])).toHaveLength(1);
  });

  it(`file length: every source file over ${MAX_LINES} lines in ${ROOTS.join(', ')} says why at its top`, () => {
    const files = ROOTS.flatMap(sourceFiles).map((name) => ({ name, text: readFileSync(path.join(REPO, name), 'utf8') }));
    expect(files.length).toBeGreaterThan(100);
    expect(unexplainedLongFiles(files)).toEqual([]);
  });
});
