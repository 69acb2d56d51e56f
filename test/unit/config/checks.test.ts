import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkFunctionReferences, cidrProblem, crossFieldIssues, requireFolder } from '../../../gateway/src/config/checks.js';
import { ConfigError, deriveConfig, isParsedConfig, parseConfig } from '../../../gateway/src/config/load.js';

const base = { singlePort: false, processes: 1, routes: [], functions: {} };

describe('config checks', () => {
  it('config checks: fields that must agree are reported under the field to change, with the fix', () => {
    expect(crossFieldIssues(base)).toEqual([]);
    // A Node without dgram reusePort (Node 20): single-port cannot be spread over processes.
    const issues = crossFieldIssues({ ...base, singlePort: true, processes: 2, portRange: '50000-50010', s3AccessKeyId: 'AK', functions: { 'bad name': {} } }, { reusePort: false });
    expect(issues.map((i) => i.path.join('.'))).toEqual(['processes', 'functions.bad name', 's3SecretAccessKey', 'portRange']);
    expect(issues[0].message).toContain('use processes=1 with singlePort');
    expect(issues[0].message).toContain('Node 22.12+');
  });

  it('config checks: single-port mode with several processes is accepted where dgram has reusePort (Node 22.12+)', () => {
    expect(crossFieldIssues({ ...base, singlePort: true, processes: 2 }, { reusePort: true })).toEqual([]);
  });

  it('config checks: route table problems are named by routes.N.FIELD', () => {
    const issues = crossFieldIssues({ ...base, routes: [{ match: 'a/*', function: 'f', folder: '/x' }] });
    expect(issues.length).toBeGreaterThan(0);
    expect(issues.every((i) => i.path[0] === 'routes' && i.path[1] === '0')).toBe(true);
  });

  it('config checks: a CIDR entry that does not parse says why; one that does gives nothing', () => {
    expect(cidrProblem('10.0.0.0/8')).toBeUndefined();
    expect(cidrProblem('10.0.0.0/33')).toMatch(/./);
  });

  it('config checks: a function without entry, deploy folder or in-process handler is refused naming its field', () => {
    const config = { functions: { grub: {} }, routes: [{ match: '*', function: 'ipxe' }] };
    expect(() => checkFunctionReferences(config, [])).toThrow(ConfigError);
    expect(() => checkFunctionReferences(config, [])).toThrow(/field "functions.grub.entry"[\s\S]*field "routes.0.function": no function named "ipxe"/);
    expect(() => checkFunctionReferences(config, ['grub', 'ipxe'])).not.toThrow();
    expect(() => checkFunctionReferences({ ...config, deployDir: '/srv/deploy' }, [])).not.toThrow();
  });

  it('config checks: a folder field that names no folder is refused naming the field', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tftpfn-checks-'));
    expect(() => requireFolder('writeRoot', dir)).not.toThrow();
    expect(() => requireFolder('writeRoot', join(dir, 'missing'))).toThrow(/field "writeRoot": .* is not a folder; create it/);
  });
});

describe('config: parsed once, deep-frozen', () => {
  it('config: the parse result is frozen all the way down', () => {
    const c = parseConfig({ hosts: ['127.0.0.1'], functions: { f: { entry: 'x.ts', vars: { A: '1' } } }, routes: [{ match: '*', function: 'f' }] });
    expect(Object.isFrozen(c)).toBe(true);
    expect(Object.isFrozen(c.hosts)).toBe(true);
    expect(Object.isFrozen(c.functions.f.vars)).toBe(true);
    expect(Object.isFrozen(c.routes[0])).toBe(true);
    expect(() => (c.hosts as string[]).push('::1')).toThrow(TypeError);
  });

  it('config: a parse result handed back is returned as it is, not parsed again; a copy is parsed', () => {
    const c = parseConfig({ port: 0 });
    expect(isParsedConfig(c)).toBe(true);
    expect(parseConfig(c)).toBe(c);
    const copy = { ...c };
    expect(isParsedConfig(copy)).toBe(false);
    expect(parseConfig(copy)).not.toBe(c);
    expect(parseConfig(copy)).toEqual(c);
  });

  it('config: a derived config (serve, one process of several) is frozen and counts as parsed', () => {
    const c = parseConfig({ metricsPort: 9100, gatewayId: 'gw' });
    const d = deriveConfig(c, { metricsPort: 9101, gatewayId: 'gw-1' });
    expect(d).toMatchObject({ metricsPort: 9101, gatewayId: 'gw-1', port: c.port });
    expect(Object.isFrozen(d)).toBe(true);
    expect(parseConfig(d)).toBe(d);
    expect(c.metricsPort).toBe(9100);
  });
});
