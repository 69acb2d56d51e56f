/**
 * `tftpfn deploy`'s logic against an in-memory control plane (fake-control.ts): the load check
 * before publish (a version that throws at import, exports no handler or fails --smoke is never
 * published and the previous stays current), the rollout it sets (stable, or a canary with
 * --percent), the manifest's settings and the author on the record, and the ack table. Real
 * esbuild and a real worker thread (needs `npm run build`).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deployCommand, deployVersion, runDeploy, type DeployInput } from '../../../gateway/src/cli/deploy.js';
import { captureIo } from './capture-io.js';
import { FakeControlPlane } from '../control/fake-control-plane.js';

let work: string;
const fn = (body: string) => {
  const dir = mkdtempSync(join(work, 'fn-'));
  writeFileSync(join(dir, 'index.ts'), body);
  return dir;
};
const GOOD = (text: string) => `import { text } from 'tftpfn/sdk';\nexport const handle = () => text(${JSON.stringify(text)});\n`;
const input = (entry: string, more: Partial<DeployInput> = {}): DeployInput => ({ entry, name: 'grub', author: 'ann@lab', timeoutMs: 2000, ...more });
const noSleep = { sleep: async () => undefined };

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'tftpfn-unit-deploy-'));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('deploy', () => {
  it('deploy: publishes a version that loads, makes it stable, and says no gateway is live', async () => {
    const cp = new FakeControlPlane();
    const io = captureIo();
    const code = await deployVersion(cp, input(fn(GOOD('v1\n')), { message: 'first' }), io);
    expect(code).toBe(0);
    const [v] = await cp.versions('grub');
    expect(v).toMatchObject({ function: 'grub', author: 'ann@lab', message: 'first', settings: {} });
    expect((await cp.rollout('grub'))!).toMatchObject({ stable: v.id, revision: 1 });
    expect(io.stdout.join('\n')).toContain(`grub: deployed version ${v.id}, ${v.bytes} bytes`);
    expect(io.stdout.join('\n')).toContain('no gateway is live');
    expect(io.stderr).toEqual([]);
  });

  it('deploy: a version that throws at import is refused, nothing is published, the previous stays current', async () => {
    const cp = new FakeControlPlane();
    expect(await deployVersion(cp, input(fn(GOOD('v1\n'))), captureIo())).toBe(0);
    const before = await cp.rollout('grub');
    const io = captureIo();
    const code = await deployVersion(cp, input(fn(`throw new Error('boom at import');\nexport const handle = () => null;\n`)), io);
    expect(code).toBe(1);
    expect(io.stderr.join('\n')).toMatch(/cannot be loaded: importing it threw: Error: boom at import/);
    expect(io.stderr.join('\n')).toContain(`nothing was published; grub still serves stable ${before!.stable}`);
    expect(cp.published).toBe(1);
    expect(await cp.rollout('grub')).toEqual(before);
  });

  it('deploy: a module without a handle function is refused', async () => {
    const cp = new FakeControlPlane();
    const io = captureIo();
    expect(await deployVersion(cp, input(fn(`export const hello = 1;\n`)), io)).toBe(1);
    expect(io.stderr.join('\n')).toContain('exports no handle function');
    expect(cp.published).toBe(0);
    expect(await cp.rollout('grub')).toBeUndefined();
  });

  it('deploy: a module that never finishes loading is refused within the bound', async () => {
    const cp = new FakeControlPlane();
    const io = captureIo();
    const started = Date.now();
    expect(await deployVersion(cp, input(fn(`await new Promise(() => setInterval(() => {}, 1000));\nexport const handle = () => null;\n`), { loadTimeoutMs: 1000 }), io)).toBe(1);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(io.stderr.join('\n')).toMatch(/did not load within 1000 ms/);
    expect(cp.published).toBe(0);
  }, 30_000);

  it('deploy: --smoke runs the handler once; an error refuses the deploy and prints it', async () => {
    const cp = new FakeControlPlane();
    const io = captureIo();
    const entry = fn(`import { notFound, text } from 'tftpfn/sdk';\nexport const handle = (r) => { if (r.path === 'crash') throw new Error('smoke boom'); return r.path === 'ok' ? text('fine') : notFound(); };\n`);
    expect(await deployVersion(cp, input(entry, { smoke: 'missing.cfg' }), io)).toBe(1);
    expect(io.stderr.join('\n')).toContain('failed its smoke run (--smoke missing.cfg): the client would get ERROR 1');
    const thrown = captureIo();
    expect(await deployVersion(cp, input(entry, { smoke: 'crash' }), thrown)).toBe(1);
    expect(thrown.stderr.join('\n')).toMatch(/the handler threw[\s\S]*smoke boom/);
    expect(cp.published).toBe(0);
    const ok = captureIo();
    expect(await deployVersion(cp, input(entry, { smoke: 'ok' }), ok)).toBe(0);
    expect(ok.stdout[0]).toMatch(/smoke ok: bytes, 4 bytes: ok$/);
    expect(cp.published).toBe(1);
  });

  it('deploy: the manifest beside the entry travels as settings; a bad one refuses with the field named', async () => {
    const cp = new FakeControlPlane();
    const entry = fn(GOOD('m\n'));
    writeFileSync(join(entry, 'tftpfn.json'), JSON.stringify({ vars: { SITE: 'lab' }, poolSize: 2 }));
    expect(await deployVersion(cp, input(entry), captureIo())).toBe(0);
    expect((await cp.versions('grub'))[0].settings).toEqual({ vars: { SITE: 'lab' }, poolSize: 2 });
    writeFileSync(join(entry, 'tftpfn.json'), JSON.stringify({ poolSize: 0 }));
    await expect(deployVersion(cp, input(entry), captureIo())).rejects.toThrow(/tftpfn\.json: poolSize: .*nothing was published/);
    expect(cp.published).toBe(1);
  });

  it('deploy: the same code and settings again is unchanged; nothing is published', async () => {
    const cp = new FakeControlPlane();
    const entry = fn(GOOD('same\n'));
    await deployVersion(cp, input(entry), captureIo());
    const io = captureIo();
    expect(await deployVersion(cp, input(entry), io)).toBe(0);
    expect(io.stdout.join('\n')).toMatch(/grub: unchanged, the current version \S+ has the same code/);
    expect(cp.published).toBe(1);
    expect((await cp.rollout('grub'))!.revision).toBe(1);
  });

  it('deploy: --percent makes the new version a canary beside the current stable; without a stable it is refused', async () => {
    const cp = new FakeControlPlane();
    await expect(deployVersion(cp, input(fn(GOOD('c\n')), { percent: 30 }), captureIo())).rejects.toThrow(/no stable version yet.*deploy it without --percent first/);
    await deployVersion(cp, input(fn(GOOD('s\n'))), captureIo());
    const stable = (await cp.rollout('grub'))!.stable;
    expect(await deployVersion(cp, input(fn(GOOD('c\n')), { percent: 30 }), captureIo())).toBe(0);
    const [canary] = await cp.versions('grub');
    expect(await cp.rollout('grub')).toMatchObject({ stable, canary: { version: canary.id, percent: 30 }, revision: 2 });
  });

  it('deploy: waits for every live gateway and prints what each serves; a rejection exits 1, silence exits 3', async () => {
    const cp = new FakeControlPlane();
    cp.addGateway('gw-a');
    cp.addGateway('gw-b');
    const io = captureIo();
    expect(await deployVersion(cp, input(fn(GOOD('a\n'))), io, noSleep)).toBe(0);
    const id = (await cp.rollout('grub'))!.stable;
    const out = io.stdout.join('\n');
    expect(out).toMatch(new RegExp(`^gw-a\\s+${id}\\s+ok$`, 'm'));
    expect(out).toMatch(new RegExp(`^gw-b\\s+${id}\\s+ok$`, 'm'));
    expect(out).toContain('all 2 live gateway(s) serve revision 1 of grub');

    const rejecting = new FakeControlPlane();
    rejecting.addGateway('gw-a');
    rejecting.addGateway('gw-b', () => 'sha256 mismatch: got 00ff');
    const r = captureIo();
    expect(await deployVersion(rejecting, input(fn(GOOD('b\n'))), r, noSleep)).toBe(1);
    expect(r.stdout.join('\n')).toMatch(/^gw-b\s+-\s+rejected: sha256 mismatch: got 00ff$/m);
    expect(r.stderr.join('\n')).toContain('gw-b rejected it:\n  sha256 mismatch: got 00ff');
    expect(r.stderr.join('\n')).toContain('1 of 2 gateway(s) rejected revision 1 of grub');
    expect(r.stderr.join('\n')).toContain('grub had no version before, so nothing serves it until a version loads');

    const silent = new FakeControlPlane();
    silent.live.push({ gateway: 'gw-quiet', at: new Date().toISOString() });
    const s = captureIo();
    let nowMs = 0;
    expect(await deployVersion(silent, input(fn(GOOD('q\n')), { timeoutMs: 500 }), s, { now: () => nowMs, sleep: async (ms) => void (nowMs += ms) })).toBe(3);
    expect(s.stdout.join('\n')).toMatch(/^gw-quiet\s+-\s+no answer within 500 ms$/m);
    expect(s.stderr.join('\n')).toContain('did not answer within 500 ms; the rollout stands');
  });

  it('deploy: without --timeout-ms it waits 10 s for the acks, then names the gateways that did not answer (exit 3)', async () => {
    const cp = new FakeControlPlane();
    cp.addGateway('gw-a');
    cp.live.push({ gateway: 'gw-quiet', at: new Date().toISOString() });
    const io = captureIo();
    // A fake clock: each sleep moves it on, so the 10 s pass at once and are counted exactly.
    let nowMs = 0;
    let polls = 0;
    const wait = { now: () => nowMs, sleep: async (ms: number) => void ((nowMs += ms), polls++) };
    const entry = fn(GOOD('default wait\n'));
    const exitBefore = process.exitCode;
    try {
      // The command as the CLI parses it: the default comes from the option, not from the test.
      await deployCommand({ io, wait, withPlane: (_verb, _flags, _io, body) => body(cp) }).parseAsync([entry, '--name', 'grub'], { from: 'user' });
      expect(process.exitCode).toBe(3);
    } finally {
      process.exitCode = exitBefore;
    }
    expect(nowMs).toBe(10_000);
    expect(polls).toBeGreaterThan(1);
    const id = (await cp.rollout('grub'))!.stable;
    const out = io.stdout.join('\n');
    expect(out).toMatch(new RegExp(`^gw-a\\s+${id}\\s+ok$`, 'm'));
    expect(out).toMatch(/^gw-quiet\s+-\s+no answer within 10000 ms$/m);
    expect(io.stderr.join('\n')).toContain('1 of 2 gateway(s) did not answer within 10000 ms; the rollout stands');
    // Published and current all the same: a silent gateway loads it when it can.
    expect(cp.published).toBe(1);
  });

  it('deploy: --smoke refuses a handler that returns something that is not a Response; nothing is published', async () => {
    const cp = new FakeControlPlane();
    expect(await deployVersion(cp, input(fn(GOOD('v1\n'))), captureIo())).toBe(0);
    const before = await cp.rollout('grub');
    // A plain object (a forgotten text(...)) and nothing at all (a forgotten return): neither loads as a Response.
    const cases = [
      { source: `export const handle = (r) => ({ body: 'menu for ' + r.path });\n`, got: 'got an object with kind undefined' },
      { source: `export const handle = (r) => { 'menu for ' + r.path; };\n`, got: 'got undefined' },
    ];
    for (const c of cases) {
      const io = captureIo();
      expect(await deployVersion(cp, input(fn(c.source), { smoke: 'grub.cfg' }), io)).toBe(1);
      const err = io.stderr.join('\n');
      expect(err).toMatch(/index\.ts failed its smoke run \(--smoke grub\.cfg\): .*\(the client would get ERROR 0\)/);
      // Said as what it is, a return value the gateway refuses: not "threw", and no stack frames.
      expect(err).toContain('the handler returned something that is not a valid Response (the client would get ERROR 0)');
      expect(err).not.toContain('the handler threw');
      expect(err).not.toMatch(/\n\s+at /);
      expect(err).toContain(`a handler must return a Response built with the sdk helpers (text, bytes, stream, file, s3Object, s3Put, discard, accepted, notFound, denied, error), ${c.got}`);
      expect(err).toContain(`nothing was published; grub still serves stable ${before!.stable}`);
      expect(io.stdout).toEqual([]);
    }
    expect(cp.published).toBe(1);
    expect(await cp.rollout('grub')).toEqual(before);
    expect((await cp.versions('grub')).length).toBe(1);
  });

  it('deploy: when a gateway rejects the new version, the rollout goes back to what it was', async () => {
    const cp = new FakeControlPlane();
    let refuse = false;
    cp.addGateway('gw-a', () => (refuse ? 'loading the bundle threw: Error: no fs' : undefined));
    expect(await deployVersion(cp, input(fn(GOOD('one\n'))), captureIo(), noSleep)).toBe(0);
    const before = (await cp.rollout('grub'))!;
    refuse = true;
    const io = captureIo();
    expect(await deployVersion(cp, input(fn(GOOD('two\n'))), io, noSleep)).toBe(1);
    expect(await cp.rollout('grub')).toMatchObject({ stable: before.stable, revision: 3 });
    expect(io.stderr.join('\n')).toContain(`grub: the rollout is back to stable ${before.stable} (revision 3); fix the version and deploy again`);
    expect((await cp.versions('grub')).length).toBe(2);
  });

  it('deploy: on a terminal the upload redraws one progress line', async () => {
    const cp = new FakeControlPlane();
    const redraws: string[] = [];
    const io = { ...captureIo(true), redraw: (l: string) => void redraws.push(l) };
    expect(await deployVersion(cp, input(fn(GOOD('tty\n'))), io)).toBe(0);
    expect(redraws.some((l) => /^grub: uploading \d+\.\d KiB \/ \d+\.\d KiB \(100%\)$/.test(l))).toBe(true);
    expect(redraws.at(-1)).toBe('');
  });

  it('deploy: a bad name or no entry is a usage error (2) before any control plane is opened', async () => {
    const io = captureIo();
    expect(await runDeploy(fn(GOOD('x')), { name: '../evil', timeoutMs: 1 }, io)).toBe(2);
    expect(io.stderr.join('\n')).toContain('invalid function name "../evil"');
    const none = captureIo();
    expect(await runDeploy(undefined, { timeoutMs: 1 }, none)).toBe(2);
    expect(none.stderr.join('\n')).toContain('give exactly one of: an entry file to publish');
  });
});
