import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { baselineBin, serverSpecs } from '../../../bench/servers.js';

describe('npm run bench -- --baseline DIR', () => {
  const dirs: string[] = [];
  const dir = () => {
    const d = mkdtempSync(join(tmpdir(), 'tftpfn-baseline-'));
    dirs.push(d);
    return d;
  };
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it('refuses a folder that is not a tftpfn checkout, or one not built, naming the flag and the fix', () => {
    const d = dir();
    expect(() => baselineBin(d)).toThrow(`--baseline ${d}: no bin/tftpfn.js there; give a tftpfn checkout (git worktree add DIR COMMIT)`);
    mkdirSync(join(d, 'bin'));
    writeFileSync(join(d, 'bin/tftpfn.js'), '');
    expect(() => baselineBin(d)).toThrow(`--baseline ${d}: not built; run \`npm ci && npm run build\` in ${d}`);
    mkdirSync(join(d, 'dist/gateway/src/cli'), { recursive: true });
    writeFileSync(join(d, 'dist/gateway/src/cli/main.js'), '');
    expect(baselineBin(d)).toBe(join(d, 'bin/tftpfn.js'));
  });

  it('adds tftpfn-base, serving from the other checkout with the flags tftpfn gets and no config of ours', () => {
    const d = dir();
    mkdirSync(join(d, 'bin'));
    writeFileSync(join(d, 'bin/tftpfn.js'), '');
    mkdirSync(join(d, 'dist/gateway/src/cli'), { recursive: true });
    writeFileSync(join(d, 'dist/gateway/src/cli/main.js'), '');
    const conf = dir();
    expect(serverSpecs(conf).some((s) => s.name === 'tftpfn-base')).toBe(false);
    const specs = serverSpecs(conf, d);
    const base = specs.find((s) => s.name === 'tftpfn-base')!.command(1234, '/srv');
    const ours = specs.find((s) => s.name === 'tftpfn')!.command(1234, '/srv');
    expect(base.args).toContain(join(d, 'bin/tftpfn.js'));
    expect(base.args.filter((a) => a !== join(d, 'bin/tftpfn.js'))).toEqual(ours.args.filter((a) => !a.endsWith('bin/tftpfn.js')));
    expect(base.args).not.toContain('-c');
  });
});
