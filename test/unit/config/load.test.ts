import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, envName, flagName, loadConfig, parseConfig } from '../../../gateway/src/config/load.js';
import { DEFAULTS } from '../../../gateway/src/config/defaults.js';
import { reusePortAvailable } from '../../../gateway/src/transport/bind.js';

const dir = mkdtempSync(join(tmpdir(), 'tftpfn-config-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let fileSeq = 0;
function configFile(contents: unknown): string {
  const path = join(dir, `config-${++fileSeq}.json`);
  writeFileSync(path, typeof contents === 'string' ? contents : JSON.stringify(contents));
  return path;
}

/** Runs loadConfig and returns the ConfigError's message (fails the test if it does not throw one). */
function configErrorOf(input: Parameters<typeof loadConfig>[0]): string {
  try {
    loadConfig(input);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as Error).message;
  }
  throw new Error('expected loadConfig to throw a ConfigError');
}

describe('loadConfig: precedence', () => {
  it('config: with nothing given every field takes its default', () => {
    const c = loadConfig({ env: {} });
    expect(c.port).toBe(DEFAULTS.port);
    expect(c.hosts).toEqual(DEFAULTS.hosts);
    expect(c.maxBlockSize).toBe(DEFAULTS.maxBlockSize);
    expect(c.maxWindowSize).toBe(DEFAULTS.maxWindowSize);
    expect(c.singlePort).toBe(false);
    expect(c.writeRoot).toBeUndefined();
    expect(c.processes).toBe(1);
  });

  it('config: the config file overrides defaults', () => {
    const file = configFile({ port: 1069, timeoutMs: 250 });
    const c = loadConfig({ configFile: file, env: {} });
    expect(c.port).toBe(1069);
    expect(c.timeoutMs).toBe(250);
    expect(c.retries).toBe(DEFAULTS.retries);
  });

  it('config: the environment overrides the config file, field by field', () => {
    const file = configFile({ port: 1069, timeoutMs: 250 });
    const c = loadConfig({ configFile: file, env: { TFTPFN_PORT: '2069' } });
    expect(c.port).toBe(2069);
    expect(c.timeoutMs).toBe(250);
  });

  it('config: flags override the environment and the config file', () => {
    const file = configFile({ port: 1069, timeoutMs: 250, retries: 7 });
    const c = loadConfig({ configFile: file, env: { TFTPFN_PORT: '2069', TFTPFN_TIMEOUT_MS: '300' }, flags: { port: '3069' } });
    expect(c.port).toBe(3069);
    expect(c.timeoutMs).toBe(300);
    expect(c.retries).toBe(7);
  });

  it('config: undefined flags and empty environment variables do not override anything', () => {
    const file = configFile({ port: 1069 });
    const c = loadConfig({ configFile: file, env: { TFTPFN_PORT: '' }, flags: { port: undefined } });
    expect(c.port).toBe(1069);
  });

  it('config: TFTPFN_CONFIG names the config file when no file is given', () => {
    const file = configFile({ port: 4069 });
    expect(loadConfig({ env: { TFTPFN_CONFIG: file } }).port).toBe(4069);
  });

  it('config: environment values are parsed into numbers, booleans and lists', () => {
    const c = loadConfig({
      env: {
        TFTPFN_HOSTS: '127.0.0.1, ::1',
        TFTPFN_SINGLE_PORT: 'true',
        TFTPFN_MAX_SESSIONS_PER_CLIENT: '3',
        TFTPFN_REFUSE: 'tsize,blksize',
        TFTPFN_ALLOW: '10.0.0.0/8,fd00::/8',
      },
    });
    expect(c.hosts).toEqual(['127.0.0.1', '::1']);
    expect(c.singlePort).toBe(true);
    expect(c.maxSessionsPerClient).toBe(3);
    expect(c.refuse).toEqual(['tsize', 'blksize']);
    expect(c.allow).toEqual(['10.0.0.0/8', 'fd00::/8']);
  });

  it('config: environment and flag names are derived from the field name', () => {
    expect(envName('maxSessionsPerClient')).toBe('TFTPFN_MAX_SESSIONS_PER_CLIENT');
    expect(flagName('maxSessionsPerClient')).toBe('--max-sessions-per-client');
    expect(envName('port')).toBe('TFTPFN_PORT');
  });

  it('config: the result is frozen', () => {
    const c = loadConfig({ env: {} });
    expect(Object.isFrozen(c)).toBe(true);
  });
});

describe('loadConfig: errors name the field and where it came from', () => {
  it('config: a bad port from the environment names the field and the variable', () => {
    const msg = configErrorOf({ env: { TFTPFN_PORT: '99999' } });
    expect(msg).toContain('field "port" (from environment TFTPFN_PORT)');
  });

  it('config: a bad value in the config file names the field and the file', () => {
    const file = configFile({ port: 'sixty-nine' });
    const msg = configErrorOf({ configFile: file, env: {} });
    expect(msg).toContain(`field "port" (from config file ${file})`);
  });

  it('config: a bad flag names the field and the flag', () => {
    const msg = configErrorOf({ env: {}, flags: { maxWindowSize: '0' } });
    expect(msg).toContain('field "maxWindowSize" (from flag --max-window-size)');
  });

  it('config: the error blames the layer that won, not the ones it overrode', () => {
    const file = configFile({ port: 1069 });
    const msg = configErrorOf({ configFile: file, env: { TFTPFN_PORT: '70000' } });
    expect(msg).toContain('(from environment TFTPFN_PORT)');
    expect(msg).not.toContain('config file');
  });

  it('config: every invalid field is reported, not only the first', () => {
    const msg = configErrorOf({ env: { TFTPFN_PORT: '-1', TFTPFN_RETRIES: 'many' }, flags: { maxBlockSize: '4' } });
    expect(msg).toContain('field "port"');
    expect(msg).toContain('field "retries"');
    expect(msg).toContain('field "maxBlockSize" (from flag --max-block-size)');
  });

  it('config: unknown fields in the config file are listed by name with the list of real fields', () => {
    const file = configFile({ prot: 69, rooot: '/srv' });
    const msg = configErrorOf({ configFile: file, env: {} });
    expect(msg).toContain('"prot"');
    expect(msg).toContain('"rooot"');
    expect(msg).toContain('maxSessionsPerClient');
  });

  it('config: unknown fields say which config file they came from', () => {
    const file = configFile({ prot: 69 });
    const msg = configErrorOf({ configFile: file, env: {} });
    expect(msg).toContain(file);
  });

  // Where dgram has reusePort (Node 22.12+, 23.1+) each process binds its own socket and the
  // kernel keeps a client on one process, so single-port mode works with several (reuse-port
  // tests); without it (Node 20) the processes share one socket and the combination is refused.
  // The test command runs this file on both, so each branch is checked by one of the runs.
  it('config: single-port mode with more than one process: refused naming processes without reusePort (Node 20), accepted with it (Node 22.12+)', () => {
    const input = { env: { TFTPFN_SINGLE_PORT: '1' }, flags: { processes: '2' } };
    if (reusePortAvailable()) {
      const config = loadConfig(input);
      expect([config.singlePort, config.processes]).toEqual([true, 2]);
    } else {
      const msg = configErrorOf(input);
      expect(msg).toContain('field "processes" (from flag --processes)');
      expect(msg).toMatch(/single-port/);
    }
  });

  it('config: single-port mode with one process is accepted', () => {
    expect(loadConfig({ env: { TFTPFN_SINGLE_PORT: '1' }, flags: { processes: '1' } }).singlePort).toBe(true);
  });

  it.each(['abc', '5000', '50000-', '0-100', '100-70000', '6000-5000', '1-2-3'])(
    'config: the bad portRange %j is refused naming the field',
    (range) => {
      const msg = configErrorOf({ env: {}, flags: { portRange: range } });
      expect(msg).toContain('field "portRange" (from flag --port-range)');
    },
  );

  it('config: a good portRange is accepted as given', () => {
    expect(loadConfig({ env: {}, flags: { portRange: '50000-50999' } }).portRange).toBe('50000-50999');
  });

  it('config: portRange together with single-port mode is refused naming portRange', () => {
    const msg = configErrorOf({ env: {}, flags: { portRange: '50000-50999', singlePort: true } });
    expect(msg).toContain('field "portRange"');
  });

  it('config: an unknown option in the refuse list is refused naming the field and the valid options', () => {
    const msg = configErrorOf({ env: { TFTPFN_REFUSE: 'tsize,bogus' } });
    expect(msg).toContain('field "refuse" (from environment TFTPFN_REFUSE)');
    expect(msg).toContain('blksize, timeout, tsize, windowsize');
  });

  it('config: the refuse list accepts option names in any case', () => {
    expect(loadConfig({ env: {}, flags: { refuse: ['TSize'] } }).refuse).toEqual(['TSize']);
  });

  it('config: a bad CIDR in allow is refused naming the field and quoting the CIDR', () => {
    const msg = configErrorOf({ env: {}, flags: { allow: ['10.0.0.0/8', '10.0.0.0/40'] } });
    expect(msg).toContain('field "allow" (from flag --allow)');
    expect(msg).toContain('"10.0.0.0/40"');
  });

  it('config: a bad CIDR in deny from the config file names the field and the file', () => {
    const file = configFile({ deny: ['not-a-network'] });
    const msg = configErrorOf({ configFile: file, env: {} });
    expect(msg).toContain(`field "deny" (from config file ${file})`);
  });

  it('config: an unreadable config file is reported with its path and an example', () => {
    const missing = join(dir, 'does-not-exist.json');
    const msg = configErrorOf({ configFile: missing, env: {} });
    expect(msg).toContain(missing);
    expect(msg).toContain('{"port"');
  });

  it('config: a config file that is not valid JSON is reported with its path', () => {
    const file = configFile('{ port: 69 ');
    expect(configErrorOf({ configFile: file, env: {} })).toContain(file);
  });

  it('config: a config file holding an array is refused', () => {
    const file = configFile([1, 2]);
    expect(configErrorOf({ configFile: file, env: {} })).toContain('JSON object');
  });

  it('config: parseConfig without origins still names the field', () => {
    expect(() => parseConfig({ maxWindowSize: 0 })).toThrow(/field "maxWindowSize": /);
  });
});

describe('loadConfig: wrong JSON types are refused, not coerced (issue 9)', () => {
  for (const [field, value, got] of [
    ['port', null, 'got null'],
    ['port', '', 'got an empty string'],
    ['port', true, 'got true'],
    ['retries', false, 'got false'],
    ['maxUploadBytes', '', 'got an empty string'],
    ['backoffFactor', true, 'got true'],
    ['singlePort', 1, 'got 1'],
    ['metricsPort', [], 'got a list'],
  ] as const) {
    it(`config: ${JSON.stringify({ [field]: value })} in the config file is refused naming the field and what it got`, () => {
      const file = configFile({ [field]: value });
      const msg = configErrorOf({ configFile: file, env: {} });
      expect(msg).toContain(`field "${field}" (from config file ${file}): expected`);
      expect(msg).toContain(got);
    });
  }

  it('config: a quoted number in the config file is refused with the fix (write it without quotes)', () => {
    const file = configFile({ port: '6969' });
    expect(configErrorOf({ configFile: file, env: {} })).toContain(`field "port" (from config file ${file}): expected a number, got the string "6969": write 6969 without quotes`);
  });

  it('config: a quoted boolean in the config file is refused', () => {
    const file = configFile({ singlePort: 'true' });
    expect(configErrorOf({ configFile: file, env: {} })).toContain('field "singlePort"');
  });

  it("config: a function's limits must be JSON numbers too", () => {
    const file = configFile({ functions: { grub: { poolSize: '2', heapMb: null } } });
    const msg = configErrorOf({ configFile: file, env: {} });
    expect(msg).toContain('field "functions.grub.poolSize"');
  });

  it('config: parseConfig (createGateway) refuses null, "" and booleans for numbers, naming the field', () => {
    expect(() => parseConfig({ port: null })).toThrow(/field "port": expected a number, got null/);
    expect(() => parseConfig({ port: '' })).toThrow(/field "port": expected a number, got an empty string/);
    expect(() => parseConfig({ port: true })).toThrow(/field "port": expected a number, got true/);
    expect(() => parseConfig({ retries: false })).toThrow(/field "retries": expected a number, got false/);
    expect(() => parseConfig({ maxUploadBytes: '' })).toThrow(/field "maxUploadBytes"/);
  });

  it('config: numbers as text still work from the environment and flags', () => {
    const c = loadConfig({ env: { TFTPFN_PORT: '2069', TFTPFN_RETRIES: '0' }, flags: { maxWindowSize: ' 16 ' } });
    expect(c.port).toBe(2069);
    expect(c.retries).toBe(0);
    expect(c.maxWindowSize).toBe(16);
  });

  it('config: an empty flag value is an error, not 0', () => {
    expect(configErrorOf({ env: {}, flags: { port: '' } })).toContain('field "port" (from flag --port): expected a number, got an empty string');
  });

  it('config: JSON numbers and booleans are accepted as they are', () => {
    const file = configFile({ port: 0, retries: 0, maxUploadBytes: 0, singlePort: true, backoffFactor: 2 });
    expect(loadConfig({ configFile: file, env: {} })).toMatchObject({ port: 0, retries: 0, maxUploadBytes: 0, singlePort: true, backoffFactor: 2 });
  });
});

describe('loadConfig: warnings and start-up checks (issue 9)', () => {
  it('config: a misspelt TFTPFN_ variable is reported with the nearest real one', () => {
    const warnings: string[] = [];
    loadConfig({ env: { TFTPFN_PROT: '6969', TFTPFN_TIMEOUTMS: '100', TFTPFN_TEST_SEED: '1', TFTPFN_PORT: '6969', OTHER: 'x' }, onWarning: (w) => warnings.push(w) });
    expect(warnings).toHaveLength(2);
    expect(warnings[0]).toContain('TFTPFN_PROT');
    expect(warnings[0]).toContain('did you mean TFTPFN_PORT?');
    expect(warnings[1]).toContain('did you mean TFTPFN_TIMEOUT_MS?');
  });

  it('config: known variables raise no warning', () => {
    const warnings: string[] = [];
    loadConfig({ env: { TFTPFN_PORT: '6969', TFTPFN_MAX_SESSIONS_PER_CLIENT: '3', TFTPFN_CONFIG: '' }, onWarning: (w) => warnings.push(w) });
    expect(warnings).toEqual([]);
  });

  it('config: metricsHost 0.0.0.0 warns that metrics and /readyz are on every interface', () => {
    for (const metricsHost of ['0.0.0.0', '::']) {
      const warnings: string[] = [];
      loadConfig({ env: {}, configFile: configFile({ metricsPort: 9100, metricsHost }), onWarning: (w) => warnings.push(w) });
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toMatch(/every interface/);
      expect(warnings[0]).toContain('/readyz');
    }
  });

  it('config: the default metricsHost raises no warning', () => {
    const warnings: string[] = [];
    loadConfig({ env: {}, flags: { metricsPort: '9100' }, onWarning: (w) => warnings.push(w) });
    expect(warnings).toEqual([]);
  });

  it('config: a root that does not exist is refused at start naming the field and where it came from', () => {
    const missing = join(dir, 'no-such-root');
    expect(configErrorOf({ env: {}, flags: { root: missing } })).toContain(`field "root" (from flag --root): ${missing} does not exist`);
  });

  it('config: a root that is a file is refused', () => {
    const file = configFile({});
    expect(configErrorOf({ env: { TFTPFN_ROOT: file } })).toContain(`field "root" (from environment TFTPFN_ROOT): ${file} is not a directory`);
  });
});
