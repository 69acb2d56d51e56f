/**
 * The control plane's contract as tests (gateway/src/control/control-plane.ts): one behaviour
 * for both implementations. folder-control.test.ts and redis-control.test.ts each run it with a
 * harness that opens instances on one shared store (two instances = a deployer and a gateway,
 * or two gateways) and can look at, and damage, what is stored underneath.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ControlPlaneError, MAX_VERSIONS, type ControlPlane, type PublishInput, type VersionRecord } from '../../../gateway/src/control/control-plane.js';
import { eventually } from '../../helpers/scratch.js';

export interface ContractHarness {
  /** A new instance on the harness's shared store. */
  make(opts?: { secretsKey?: Uint8Array }): Promise<ControlPlane>;
  /** How many stored copies of the code with this sha256 the function has (content addressing: 1). */
  storedCopies(name: string, sha256: string): Promise<number>;
  /** Overwrites the stored bundle of a version with other bytes of the same length. */
  tamper(record: VersionRecord): Promise<void>;
  /** The secret values of a function as stored (sealed), to prove no plain text is at rest. */
  storedSecretValues(name: string): Promise<string[]>;
  /** What exit-child.ts needs to open an instance on this store in another process. */
  childSpec: Record<string, unknown>;
  cleanup(): Promise<void>;
}

export const KEY = Buffer.alloc(32, 0x5a);
const OTHER_KEY = Buffer.alloc(32, 0xa5);
const HERE = fileURLToPath(new URL('.', import.meta.url));
const REPO = join(HERE, '../../..');

let counter = 0;
/** A function name of its own per test: the store is shared by the whole file. */
function fname(tag: string): string {
  return `${tag}-${process.pid}-${counter++}`;
}

export function bundle(text: string, extra: Partial<PublishInput> = {}): PublishInput {
  const code = Buffer.from(`export function handle() { return ${JSON.stringify(text)}; }\n`);
  return {
    code,
    sha256: createHash('sha256').update(code).digest('hex'),
    author: 'tester@box',
    settings: { vars: { SITE: 'lab' }, poolSize: 2 },
    ...extra,
  };
}

async function rejection(p: Promise<unknown>): Promise<Error> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  if (!(e instanceof Error)) throw new Error('expected a rejection');
  return e;
}


export function controlPlaneContract(label: string, open: () => Promise<ContractHarness>): void {
  describe(`control plane contract: ${label}`, () => {
    let h: ContractHarness;
    let plane: ControlPlane;
    const opened: ControlPlane[] = [];
    const make = async (opts?: { secretsKey?: Uint8Array }) => {
      const p = await h.make(opts);
      opened.push(p);
      return p;
    };

    beforeAll(async () => {
      h = await open();
      plane = await make({ secretsKey: KEY });
    });
    afterAll(async () => {
      for (const p of opened) await p.close();
      await h?.cleanup();
    });

    it('publish: records an immutable version with its id, hash, size, author, message, entry and settings; functions() lists it', async () => {
      const name = fname('pub');
      const input = bundle('one', { message: 'first', entry: 'functions/one/index.ts', map: Buffer.from('{"version":3}') });
      const progress: [number, number][] = [];
      const r = await plane.publish(name, input, (s, t) => progress.push([s, t]));
      expect(r).toMatchObject({ function: name, sha256: input.sha256, bytes: input.code.length, message: 'first', author: 'tester@box', entry: 'functions/one/index.ts', settings: { vars: { SITE: 'lab' }, poolSize: 2 } });
      expect(r.id).toMatch(new RegExp(`^\\d{8}T\\d{9}Z-${input.sha256.slice(0, 8)}$`));
      expect(new Date(r.createdAt).toISOString()).toBe(r.createdAt);
      expect(progress.at(-1)).toEqual([input.code.length, input.code.length]);
      expect(await plane.version(name, r.id)).toEqual(r);
      expect(await plane.version(name, '20200101T000000000Z-00000000')).toBeUndefined();
      expect(await plane.functions()).toContain(name);
      // Publishing does not change the rollout.
      expect(await plane.rollout(name)).toBeUndefined();
      const fetched = await plane.fetchBundle(r);
      expect(fetched.code.equals(input.code)).toBe(true);
      expect(fetched.map?.toString()).toBe('{"version":3}');
    });

    it('publish: the same code twice is two version records with one stored bundle', async () => {
      const name = fname('same');
      const input = bundle('same code');
      const a = await plane.publish(name, input);
      const b = await plane.publish(name, { ...input, message: 'again' });
      expect(b.id).not.toBe(a.id);
      expect(b.id > a.id).toBe(true);
      expect(b.sha256).toBe(a.sha256);
      expect(await h.storedCopies(name, input.sha256)).toBe(1);
      expect((await plane.fetchBundle(b)).code.equals(input.code)).toBe(true);
      const other = bundle('other code');
      await plane.publish(name, other);
      expect(await h.storedCopies(name, other.sha256)).toBe(1);
      expect((await plane.versions(name)).map((v) => v.message ?? '')).toEqual(['', 'again', '']);
    });

    it('publish: refuses code that does not match its sha256, and a bad function name', async () => {
      const input = bundle('x');
      const e = await rejection(plane.publish(fname('bad'), { ...input, sha256: 'f'.repeat(64) }));
      expect(e).toBeInstanceOf(ControlPlaneError);
      expect(e.message).toContain('sha256');
      expect((await rejection(plane.publish('../evil', input))).message).toContain('invalid function name "../evil"');
      expect((await rejection(plane.publish('a{b}', input))).message).toContain('invalid function name');
    });

    it('versions: newest first; ids strictly increase even within one millisecond', async () => {
      const name = fname('order');
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) ids.push((await plane.publish(name, bundle(`v${i}`))).id);
      expect([...ids].sort()).toEqual(ids);
      expect(new Set(ids).size).toBe(5);
      expect((await plane.versions(name)).map((v) => v.id)).toEqual([...ids].reverse());
    });

    it('publish and setRollout from two instances at once: ids all distinct and increasing in publish order, revisions all distinct', async () => {
      const name = fname('race');
      const a = await make();
      const b = await make();
      const published = await Promise.all(Array.from({ length: 24 }, (_, i) => (i % 2 === 0 ? a : b).publish(name, bundle(`race ${i % 4}`))));
      const ids = published.map((r) => r.id);
      expect(new Set(ids).size).toBe(24);
      const listed = (await plane.versions(name)).map((v) => v.id);
      expect(listed).toEqual([...ids].sort().reverse());
      for (const r of published) expect(await plane.version(name, r.id)).toEqual(r);
      const rollouts = await Promise.all(Array.from({ length: 12 }, (_, i) => (i % 2 === 0 ? a : b).setRollout(name, { stable: ids[i] })));
      expect(rollouts.map((r) => r.revision).sort((x, y) => x - y)).toEqual(Array.from({ length: 12 }, (_, i) => i + 1));
      const last = rollouts.find((r) => r.revision === 12)!;
      expect(await plane.rollout(name)).toEqual(last);
    });

    it(`versions: at most ${MAX_VERSIONS} are kept, the oldest pruned first, never one the rollout names`, async () => {
      const name = fname('prune');
      const first = await plane.publish(name, bundle('stable'));
      const second = await plane.publish(name, bundle('canary'));
      await plane.setRollout(name, { stable: first.id, canary: { version: second.id, percent: 10 } });
      const later: string[] = [];
      for (let i = 0; i < MAX_VERSIONS + 1; i++) later.push((await plane.publish(name, bundle(`later ${i % 3}`))).id);
      const kept = (await plane.versions(name)).map((v) => v.id);
      expect(kept).toHaveLength(MAX_VERSIONS);
      // 103 published, 2 protected: the three oldest unprotected ones went.
      expect(kept).toContain(first.id);
      expect(kept).toContain(second.id);
      for (const gone of later.slice(0, 3)) {
        expect(kept).not.toContain(gone);
        expect(await plane.version(name, gone)).toBeUndefined();
      }
      expect(kept.slice(0, MAX_VERSIONS - 2)).toEqual(later.slice(3).reverse());
      expect((await plane.fetchBundle(first)).code.toString()).toContain('stable');
    });

    it('setRollout: bumps the revision each time and is read back; a rollout naming an unknown version is refused and changes nothing', async () => {
      const name = fname('roll');
      const a = await plane.publish(name, bundle('a'));
      const b = await plane.publish(name, bundle('b'));
      const r1 = await plane.setRollout(name, { stable: a.id });
      expect(r1).toMatchObject({ stable: a.id, revision: 1 });
      expect(r1.canary).toBeUndefined();
      const r2 = await plane.setRollout(name, { stable: b.id });
      expect(r2.revision).toBe(2);
      expect(await plane.rollout(name)).toEqual(r2);
      // The stable it replaced is remembered for rollback; a canary beside it does not move that.
      expect(r2.previousStable).toBe(a.id);
      const withCanary = await plane.setRollout(name, { stable: b.id, canary: { version: a.id, percent: 20 } });
      expect(withCanary).toMatchObject({ stable: b.id, previousStable: a.id, canary: { version: a.id, percent: 20 }, revision: 3 });
      const r4 = await plane.setRollout(name, { stable: b.id });
      expect(r4).toMatchObject({ stable: b.id, previousStable: a.id, revision: 4 });
      const missing = '20990101T000000000Z-deadbeef';
      const e = await rejection(plane.setRollout(name, { stable: missing }));
      expect(e).toBeInstanceOf(ControlPlaneError);
      expect(e.message).toContain(missing);
      expect((await rejection(plane.setRollout(name, { stable: a.id, canary: { version: missing, percent: 5 } }))).message).toContain(missing);
      expect((await rejection(plane.setRollout(name, { stable: 'latest' }))).message).toContain('not a version id');
      expect(await plane.rollout(name)).toEqual(r4);
      // Another function's versions do not count.
      const elsewhere = await plane.publish(fname('roll-other'), bundle('c'));
      expect((await rejection(plane.setRollout(name, { stable: elsewhere.id }))).message).toContain(elsewhere.id);
    });

    it('setRollout: a canary takes a whole percent from 1 to 99 and another version than the stable one', async () => {
      const name = fname('canary');
      const a = await plane.publish(name, bundle('a'));
      const b = await plane.publish(name, bundle('b'));
      for (const percent of [0, 100, -1, 50.5, Number.NaN]) {
        const e = await rejection(plane.setRollout(name, { stable: a.id, canary: { version: b.id, percent } }));
        expect(e).toBeInstanceOf(ControlPlaneError);
        expect(e.message).toContain('use a whole number from 1 to 99');
      }
      expect((await rejection(plane.setRollout(name, { stable: a.id, canary: { version: a.id, percent: 5 } }))).message).toContain('already the stable version');
      expect(await plane.rollout(name)).toBeUndefined();
      expect(await plane.setRollout(name, { stable: a.id, canary: { version: b.id, percent: 1 } })).toMatchObject({ canary: { version: b.id, percent: 1 }, revision: 1 });
      expect(await plane.setRollout(name, { stable: a.id, canary: { version: b.id, percent: 99 } })).toMatchObject({ canary: { version: b.id, percent: 99 }, revision: 2 });
      // Promote: the canary becomes stable, no canary left.
      const promoted = await plane.setRollout(name, { stable: b.id });
      expect(promoted.canary).toBeUndefined();
      expect((await plane.rollout(name))?.stable).toBe(b.id);
    });

    it('fetchBundle: a stored bundle altered after publish is refused with an error naming the version', async () => {
      const name = fname('tamper');
      const r = await plane.publish(name, bundle('genuine'));
      expect((await plane.fetchBundle(r)).code.toString()).toContain('genuine');
      await h.tamper(r);
      const e = await rejection(plane.fetchBundle(r));
      expect(e).toBeInstanceOf(ControlPlaneError);
      expect(e.message).toContain(r.id);
      expect(e.message).toContain('sha256');
      // A record whose hash was forged in memory does not fetch either.
      const forged = { ...r, sha256: 'a'.repeat(64) };
      expect((await rejection(plane.fetchBundle(forged))).message).toContain(r.id);
    });

    it('watch: another instance on the same store hears every setRollout; unsubscribe stops it', async () => {
      const name = fname('watch');
      const deployer = await make({ secretsKey: KEY });
      const gateway = await make({ secretsKey: KEY });
      const v = await deployer.publish(name, bundle('w1'));
      const w = await deployer.publish(name, bundle('w2'));
      const heard: string[] = [];
      const stop = gateway.watch((n) => heard.push(n));
      // The subscription may take a moment to be live (pub/sub): retry the change, bounded.
      let ok = false;
      for (let attempt = 0; attempt < 10 && !ok; attempt++) {
        await deployer.setRollout(name, { stable: attempt % 2 === 0 ? v.id : w.id });
        ok = await eventually(() => heard.includes(name), 1000);
      }
      expect(ok).toBe(true);
      // Once live, each change is heard.
      heard.length = 0;
      await deployer.setRollout(name, { stable: v.id, canary: { version: w.id, percent: 30 } });
      expect(await eventually(() => heard.includes(name), 2000)).toBe(true);
      expect(heard.every((n) => n === name)).toBe(true);
      stop();
      heard.length = 0;
      await deployer.setRollout(name, { stable: w.id });
      await new Promise((r) => setTimeout(r, 700));
      expect(heard).toEqual([]);
    });

    it('acks: the latest ack of each gateway, per function', async () => {
      const name = fname('acks');
      const other = fname('acks-other');
      const at = new Date().toISOString();
      expect(await plane.acks(name)).toEqual([]);
      await plane.ack({ gateway: 'gw-1', function: name, revision: 1, serving: ['v1'], ok: true, at });
      await plane.ack({ gateway: 'gw-2', function: name, revision: 1, serving: [], ok: false, error: 'hash mismatch', at });
      await plane.ack({ gateway: 'gw-1', function: name, revision: 2, serving: ['v2', 'v3'], ok: true, at });
      await plane.ack({ gateway: 'gw-3', function: other, revision: 1, serving: ['x'], ok: true, at });
      const acks = (await plane.acks(name)).sort((a, b) => a.gateway.localeCompare(b.gateway));
      expect(acks).toEqual([
        { gateway: 'gw-1', function: name, revision: 2, serving: ['v2', 'v3'], ok: true, at },
        { gateway: 'gw-2', function: name, revision: 1, serving: [], ok: false, error: 'hash mismatch', at },
      ]);
      expect((await plane.acks(other)).map((a) => a.gateway)).toEqual(['gw-3']);
      expect((await rejection(plane.ack({ gateway: '../x', function: name, revision: 1, serving: [], ok: true, at }))).message).toContain('invalid gateway id');
    });

    it('liveGateways: a heartbeat is live until its ttl passes; refreshed ones stay', async () => {
      const tag = `hb-${process.pid}-${counter++}`;
      const short = `${tag}-short`;
      const long = `${tag}-long`;
      await plane.heartbeat({ gateway: long, at: new Date().toISOString() }, 60_000);
      await plane.heartbeat({ gateway: short, at: new Date().toISOString(), degraded: 'redis down, serving cached versions' }, 400);
      const mine = async () => (await plane.liveGateways()).filter((g) => g.gateway.startsWith(tag)).sort((a, b) => a.gateway.localeCompare(b.gateway));
      const both = await mine();
      expect(both.map((g) => g.gateway)).toEqual([long, short]);
      expect(both[1].degraded).toBe('redis down, serving cached versions');
      // Seen from another instance too.
      const other = await make();
      expect((await other.liveGateways()).some((g) => g.gateway === short)).toBe(true);
      const started = Date.now();
      expect(await eventually(async () => (await mine()).length === 1, 5000)).toBe(true);
      expect(Date.now() - started).toBeGreaterThanOrEqual(150);
      expect((await mine())[0].gateway).toBe(long);
      // A new heartbeat brings it back.
      await plane.heartbeat({ gateway: short, at: new Date().toISOString() }, 60_000);
      expect((await mine()).map((g) => g.gateway)).toEqual([long, short]);
    });

    it('leave: a gateway that leaves is off the live list at once, for every instance; an unknown id is harmless', async () => {
      const tag = `lv-${process.pid}-${counter++}`;
      const going = `${tag}-going`;
      const staying = `${tag}-staying`;
      const mine = async (p: ControlPlane) => (await p.liveGateways()).map((g) => g.gateway).filter((g) => g.startsWith(tag)).sort();
      await plane.heartbeat({ gateway: going, at: new Date().toISOString() }, 60_000);
      await plane.heartbeat({ gateway: staying, at: new Date().toISOString() }, 60_000);
      const other = await make();
      expect(await mine(other)).toEqual([going, staying]);
      // Left from another instance (the gateway's own plane; the CLI reads through its own).
      await other.leave(going);
      expect(await mine(plane)).toEqual([staying]);
      expect(await mine(other)).toEqual([staying]);
      // Twice, and an id never seen: no error, nothing else changes.
      await other.leave(going);
      await plane.leave(`${tag}-never-seen`);
      expect(await mine(plane)).toEqual([staying]);
      // A heartbeat after leaving lists it again (a gateway that starts once more under its id).
      await plane.heartbeat({ gateway: going, at: new Date().toISOString() }, 60_000);
      expect(await mine(plane)).toEqual([going, staying]);
      expect((await rejection(plane.leave('../x'))).message).toContain('invalid gateway id');
    });

    it('secrets: sealed at rest, names only in the list, values for the gateway, delete, and per function', async () => {
      const name = fname('sec');
      await plane.putSecret(name, 'DB_PASSWORD', 'hunter2-plain');
      await plane.putSecret(name, 'API_TOKEN', 'tok-plain');
      await plane.putSecret(fname('sec-other'), 'DB_PASSWORD', 'elsewhere');
      expect(await plane.secretNames(name)).toEqual(['API_TOKEN', 'DB_PASSWORD']);
      const stored = await h.storedSecretValues(name);
      expect(stored).toHaveLength(2);
      for (const s of stored) {
        expect(s).not.toContain('plain');
        expect(s.startsWith('v1:')).toBe(true);
      }
      const reader = await make({ secretsKey: KEY });
      expect(await reader.secrets(name)).toEqual({ DB_PASSWORD: 'hunter2-plain', API_TOKEN: 'tok-plain' });
      await plane.putSecret(name, 'API_TOKEN', 'rotated');
      expect((await reader.secrets(name)).API_TOKEN).toBe('rotated');
      expect(await plane.deleteSecret(name, 'API_TOKEN')).toBe(true);
      expect(await plane.deleteSecret(name, 'API_TOKEN')).toBe(false);
      expect(await plane.secretNames(name)).toEqual(['DB_PASSWORD']);
      expect(await plane.secrets(fname('sec-none'))).toEqual({});
      expect((await rejection(plane.putSecret(name, 'bad name', 'x'))).message).toContain('invalid secret name');
    });

    it('secrets: a wrong key fails to decrypt with a clear error; no key at all is refused naming the setting', async () => {
      const name = fname('seckey');
      await plane.putSecret(name, 'PASSWORD', 'swordfish');
      const wrong = await make({ secretsKey: OTHER_KEY });
      const e = await rejection(wrong.secrets(name));
      expect(e.message).toContain(`secret "PASSWORD" of function "${name}" cannot be decrypted`);
      expect(e.message).toContain('secretsKey');
      expect(e.message).not.toContain('swordfish');
      const none = await make();
      expect(await none.secretNames(name)).toEqual(['PASSWORD']);
      expect((await rejection(none.putSecret(name, 'X', 'y'))).message).toContain('secretsKey');
      expect((await rejection(none.secrets(name))).message).toContain('secretsKey');
    });

    it('close: releases everything, so a process that used every call exits by itself', async () => {
      const dir = join(REPO, 'node_modules/.cache/tftpfn-control-contract');
      mkdirSync(dir, { recursive: true });
      const out = join(dir, `exit-child-${process.pid}.mjs`);
      await build({ entryPoints: [join(HERE, 'exit-child.ts')], bundle: true, platform: 'node', format: 'esm', packages: 'external', outfile: out, logLevel: 'silent' });
      // --no-warnings: Node 20 gets the AWS SDK's end-of-support notice on stderr; errors still print.
      const child = spawn(process.execPath, ['--no-warnings', out, JSON.stringify({ ...h.childSpec, name: fname('exit'), key: KEY.toString('hex') })], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
      child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
      const started = Date.now();
      const exit = await new Promise<{ code: number | null; closedAt: number } | 'hung'>((resolve) => {
        const timer = setTimeout(() => {
          child.kill('SIGKILL');
          resolve('hung');
        }, 20_000);
        child.on('exit', (code) => {
          clearTimeout(timer);
          resolve({ code, closedAt: Date.now() });
        });
      });
      expect(exit, `child did not exit after close(); stdout: ${stdout} stderr: ${stderr}`).not.toBe('hung');
      if (exit === 'hung') return;
      expect(stderr).toBe('');
      expect(exit.code).toBe(0);
      const done = /closed at (\d+)/.exec(stdout);
      expect(done, stdout).not.toBeNull();
      // Exits promptly after close(), not when some timer or socket finally lets go.
      expect(exit.closedAt - Number(done![1])).toBeLessThan(1500);
      expect(exit.closedAt - started).toBeLessThan(20_000);
    });
  });
}
