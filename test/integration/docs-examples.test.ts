/**
 * The SDK README's examples produce what it shows (issue 14): fenced blocks marked
 * `<!-- check: ... -->` are command transcripts (`$ tftpfn ...` then its output), run with the
 * built CLI in a scratch folder holding `functions/` and the `<!-- check-file: NAME -->` blocks;
 * `<!-- check-vitest: ./x.js=REPO/PATH -->` blocks are test files, run by vitest. Sizes, build
 * times and sha256 hashes are the only parts compared loosely.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BIN, REPO } from '../helpers/cli.js';

interface Block {
  marker: string;
  arg: string;
  body: string;
}

/** Every fenced block right after a `<!-- check...: arg -->` line. */
export function markedBlocks(markdown: string): Block[] {
  const out: Block[] = [];
  const re = /<!-- (check|check-file|check-vitest): ([^\n]*?) -->\n```[a-z]*\n([\s\S]*?)\n```/g;
  for (const m of markdown.matchAll(re)) out.push({ marker: m[1], arg: m[2], body: m[3] });
  return out;
}

/** Sizes, times and hashes change with every edit of a function; the rest must match. */
const loose = (text: string) =>
  text
    .replace(/\d+ bytes \([\d.]+ KiB\)/g, 'N bytes (N KiB)')
    .replace(/built in \d+ ms/g, 'built in N ms')
    .replace(/\b[0-9a-f]{64}\b/g, '<sha256>')
    .trimEnd();

const readme = readFileSync(join(REPO, 'sdk/README.md'), 'utf8');
const blocks = markedBlocks(readme);
const scratch = mkdtempSync(join(tmpdir(), 'tftpfn-docs-'));
symlinkSync(join(REPO, 'functions'), join(scratch, 'functions'));
for (const b of blocks.filter((x) => x.marker === 'check-file')) writeFileSync(join(scratch, b.arg.trim()), `${b.body}\n`);
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('sdk/README.md examples', () => {
  it('docs: the README marks its build and invoke transcripts and the invoke harness example for checking', () => {
    const transcripts = blocks.filter((b) => b.marker === 'check').map((b) => b.body);
    expect(transcripts.some((t) => t.includes('$ tftpfn build functions/grub'))).toBe(true);
    expect(transcripts.some((t) => t.includes('$ tftpfn invoke functions/grub'))).toBe(true);
    expect(blocks.filter((b) => b.marker === 'check-vitest')).toHaveLength(1);
  });

  const commands = blocks
    .filter((b) => b.marker === 'check')
    .flatMap((b) =>
      b.body
        .split(/^(?=\$ )/m)
        .filter((part) => part.startsWith('$ '))
        .map((part) => {
          const [first, ...rest] = part.split('\n');
          return { command: first.slice(2), expected: rest.join('\n') };
        }),
    );

  for (const { command, expected } of commands) {
    it(`docs: \`${command}\` prints what the README shows`, () => {
      const args = command.split(/\s+/);
      expect(args[0]).toBe('tftpfn');
      const r = spawnSync(process.execPath, [BIN, ...args.slice(1)], { cwd: scratch, encoding: 'utf8', timeout: 60_000 });
      expect(loose(`${r.stdout}${r.stderr}`)).toBe(loose(expected));
    }, 70_000);
  }

  it('docs: the invoke harness example passes as a vitest test', () => {
    const block = blocks.find((b) => b.marker === 'check-vitest')!;
    const [from, to] = block.arg.split(/\s/)[0].split('=');
    const dir = join(REPO, 'test', `.docs-check-${process.pid}`);
    mkdirSync(dir, { recursive: true });
    try {
      const file = join(dir, 'readme-example.test.ts');
      writeFileSync(file, block.body.replace(`'${from}'`, `'${join(REPO, to)}'`));
      const r = spawnSync(process.execPath, [join(REPO, 'node_modules/vitest/vitest.mjs'), 'run', file], { cwd: REPO, encoding: 'utf8', timeout: 100_000 });
      // eslint-disable-next-line no-control-regex
      expect((r.stdout + r.stderr).replace(/\x1b\[[0-9;]*m/g, '')).toMatch(/Tests\s+1 passed \(1\)/);
      expect(r.status).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 110_000);
});
