/**
 * infra/systemd/tftpfn.service: `systemd-analyze verify` (systemd is not PID 1 on the machines
 * this project tests on, so the unit is verified, not started), with ExecStart pointed at a stub
 * because the unit names the install location /opt/tftpfn, which is not on the test machine;
 * the path itself is checked against where `npm install --prefix /opt/tftpfn` puts the command.
 * infra/config.example.json, which the unit reads, loads with the unit's environment.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../gateway/src/config/load.js';
import { REPO } from '../../helpers/cli.js';

const unit = readFileSync(join(REPO, 'infra/systemd/tftpfn.service'), 'utf8');
const pkg = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { name: string; bin: Record<string, string> };
/** Key=value lines of the unit, comments dropped; a key may repeat. */
const settings = unit
  .split('\n')
  .filter((l) => /^[A-Za-z]+=/.test(l))
  .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)] as const);
const values = (key: string) => settings.filter(([k]) => k === key).map(([, v]) => v);

let work: string;
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'tftpfn-systemd-'));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** systemd-analyze verify on a copy whose ExecStart command is a stub; returns its output. */
function verify(text: string, name: string): { status: number | null; output: string } {
  mkdirSync(join(work, name));
  const stub = join(work, name, 'tftpfn');
  writeFileSync(stub, '#!/bin/sh\n');
  chmodSync(stub, 0o755);
  const file = join(work, name, 'tftpfn.service');
  writeFileSync(file, text.replace(/^ExecStart=\S+/m, `ExecStart=${stub}`));
  const r = spawnSync('systemd-analyze', ['verify', file], { encoding: 'utf8', timeout: 20_000 });
  if (r.error) throw new Error(`systemd-analyze could not run (${r.error.message}): install systemd`);
  return { status: r.status, output: (r.stdout + r.stderr).replaceAll(join(work, name), '<dir>') };
}

describe('infra/systemd', () => {
  it('systemd: systemd-analyze verify accepts the unit without a warning, and does warn on a misspelt copy', () => {
    expect(verify(unit, 'good')).toEqual({ status: 0, output: '' });
    const bad = verify(unit.replace(/^AmbientCapabilities=/m, 'AmbientCapabilites=').replace(/^ProtectSystem=strict$/m, 'ProtectSystem=stricter'), 'bad');
    expect(bad.output).toContain("Unknown key 'AmbientCapabilites' in section [Service]");
    expect(bad.output).toContain('Failed to parse protect system value');
  });

  it('systemd: ExecStart is the command npm install --prefix /opt/tftpfn installs, serving the config file', () => {
    expect(Object.keys(pkg.bin)).toEqual(['tftpfn']);
    expect(values('ExecStart')).toEqual(['/opt/tftpfn/node_modules/.bin/tftpfn serve --config /etc/tftpfn/config.json']);
  });

  it('systemd: a dedicated user with only the bind capability, ambient; hardened; no ExecReload (there is no config reload)', () => {
    expect(values('User')).toEqual(['tftpfn']);
    expect(values('AmbientCapabilities')).toEqual(['CAP_NET_BIND_SERVICE']);
    expect(values('CapabilityBoundingSet')).toEqual(['CAP_NET_BIND_SERVICE']);
    expect(values('NoNewPrivileges')).toEqual(['yes']);
    expect(values('ProtectSystem')).toEqual(['strict']);
    expect(values('StateDirectory')).toEqual(['tftpfn']);
    expect(values('CacheDirectory')).toEqual(['tftpfn']);
    expect(values('ExecReload')).toEqual([]);
    // The SIGTERM drain fits before systemd kills.
    const config = JSON.parse(readFileSync(join(REPO, 'infra/config.example.json'), 'utf8')) as { shutdownGraceMs: number };
    expect(Number(values('TimeoutStopSec')[0]) * 1000).toBeGreaterThan(config.shutdownGraceMs);
  });

  it('systemd: infra/config.example.json loads with the unit environment; its folders are the unit state and cache folders', () => {
    const env = Object.fromEntries(values('Environment').map((v) => v.split('=', 2) as [string, string]));
    const warnings: string[] = [];
    const config = loadConfig({ configFile: join(REPO, 'infra/config.example.json'), env, onWarning: (w) => warnings.push(w) });
    expect(warnings).toEqual([]);
    expect(config.deployDir).toBe('/var/lib/tftpfn/deploy');
    expect(config.controlCacheDir).toBe('/var/cache/tftpfn');
    expect(config.port).toBe(69);
  });
});
