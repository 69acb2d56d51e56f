/**
 * No verb may define an option named like one of the root program's: commander matches the
 * root's options anywhere on the line (positional options are off), so `tftpfn tail --version V`
 * printed tftpfn's own version instead of filtering by function version. Walks the whole
 * command tree as the CLI builds it.
 */
import type { Command } from 'commander';
import { describe, expect, test } from 'vitest';
import { programFor, tftpfnProgram } from '../../../gateway/src/cli/program.js';

function* commands(c: Command, path: string[] = []): Generator<[string, Command]> {
  for (const sub of c.commands) {
    const here = [...path, sub.name()];
    yield [here.join(' '), sub];
    yield* commands(sub, here);
  }
}

describe('cli: options', () => {
  test('cli options: no verb defines an option named like a root option (--version, -V)', async () => {
    const program = await tftpfnProgram();
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

  test('cli options: tail filters by function version with --fn-version', async () => {
    const tail = (await tftpfnProgram()).commands.find((c) => c.name() === 'tail')!;
    expect(tail.options.map((o) => o.long)).toContain('--fn-version');
    tail.parseOptions(['--fn-version', 'v3']);
    expect(tail.opts().fnVersion).toBe('v3');
  });

  test('cli program: a command line naming a verb builds that verb alone; one naming none builds every verb', async () => {
    const all = (await tftpfnProgram()).commands.map((c) => c.name());
    expect(all.slice(0, 3)).toEqual(['serve', 'init', 'dev']);
    const serve = await programFor(['node', 'tftpfn', 'serve', '--root', '/srv/tftp']);
    expect(serve.commands.map((c) => c.name())).toEqual(['serve']);
    // The one verb is the same command as in the whole tree: same options, same root options.
    const full = (await tftpfnProgram()).commands.find((c) => c.name() === 'serve')!;
    expect(serve.commands[0].options.map((o) => o.long)).toEqual(full.options.map((o) => o.long));
    expect(serve.options.map((o) => o.long)).toEqual(['--version']);
    expect((await programFor(['node', 'tftpfn', 'tail'])).commands.map((c) => c.name())).toEqual(['tail']);
    for (const line of [['node', 'tftpfn'], ['node', 'tftpfn', '--help'], ['node', 'tftpfn', 'serv'], ['node', 'tftpfn', 'constructor']]) {
      expect((await programFor(line)).commands.map((c) => c.name())).toEqual(all);
    }
  });
});
