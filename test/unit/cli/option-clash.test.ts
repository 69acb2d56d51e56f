/**
 * No verb may define an option named like one of the root program's: commander matches the
 * root's options anywhere on the line (positional options are off), so `tftpfn tail --version V`
 * printed tftpfn's own version instead of filtering by function version. Walks the whole
 * command tree as the CLI builds it.
 */
import type { Command } from 'commander';
import { describe, expect, test } from 'vitest';
import { tftpfnProgram } from '../../../gateway/src/cli/program.js';

function* commands(c: Command, path: string[] = []): Generator<[string, Command]> {
  for (const sub of c.commands) {
    const here = [...path, sub.name()];
    yield [here.join(' '), sub];
    yield* commands(sub, here);
  }
}

describe('cli: options', () => {
  test('cli options: no verb defines an option named like a root option (--version, -V)', () => {
    const program = tftpfnProgram();
    const rootNames = new Set(program.options.flatMap((o) => [o.long, o.short].filter((n): n is string => n !== undefined)));
    expect(rootNames).toEqual(new Set(['--version', '-V']));
    const clashes: string[] = [];
    let verbs = 0;
    for (const [path, cmd] of commands(program)) {
      verbs++;
      for (const o of cmd.options) for (const n of [o.long, o.short]) if (n !== undefined && rootNames.has(n)) clashes.push(`tftpfn ${path} ${n}`);
    }
    expect(verbs).toBeGreaterThan(15);
    expect(clashes).toEqual([]);
  });

  test('cli options: tail filters by function version with --fn-version', () => {
    const tail = tftpfnProgram().commands.find((c) => c.name() === 'tail')!;
    expect(tail.options.map((o) => o.long)).toContain('--fn-version');
    tail.parseOptions(['--fn-version', 'v3']);
    expect(tail.opts().fnVersion).toBe('v3');
  });
});
