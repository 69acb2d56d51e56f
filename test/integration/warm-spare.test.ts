/**
 * The warm spare (runtime/warm-spare.ts) with real sandboxed processes: a pool adopts the idle
 * process, a new spare follows, a spare killed while idle is replaced, close leaves no process
 * and no folder behind, and an adopted process has exactly the rights of a dedicated one (its
 * command line is the same but for its own folder, and the hostile fixture's file, environment
 * and gateway-cmdline reads fail in it as function-boundary-attacks.test.ts checks for a
 * dedicated process). Also a gateway with functions.NAME.warmSpare: its spare is gone after
 * close.
 */
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { pino } from 'pino';
import { WorkerPool, type FunctionResult, type PoolSpec } from '../../gateway/src/runtime/worker-pool.js';
import { WarmSpare } from '../../gateway/src/runtime/warm-spare.js';
import { FunctionFailure } from '../../gateway/src/runtime/function-failure.js';
import { startGateway } from '../../gateway/src/index.js';
import { get } from '../../client/index.js';
import { buildFixture, captureLog, eventually, FIXTURES, fnRequest } from '../helpers/functions.js';
import { alive, sandboxHosts } from '../helpers/sandbox-processes.js';

let hostile: string;
const pools: WorkerPool[] = [];
const spares: WarmSpare[] = [];
const log = pino({ level: 'silent' });

function spec(over: Partial<PoolSpec> = {}): PoolSpec {
  return { name: 'hostile', version: 'v1', bundlePath: hostile, size: 1, heapMb: 64, timeoutMs: 3000, maxConcurrent: 10, vars: {}, secrets: { TOKEN: 'fn-secret-token' }, streamHighWaterBytes: 256 * 1024, ...over };
}

async function startPool(over: Partial<PoolSpec> = {}): Promise<WorkerPool> {
  const p = new WorkerPool(spec(over), captureLog().logger);
  pools.push(p);
  await p.start();
  return p;
}

function newSpare(): WarmSpare {
  const s = new WarmSpare({ log });
  spares.push(s);
  return s;
}

function body(r: FunctionResult): string {
  if (r.kind !== 'bytes') throw new Error(`expected bytes, got ${r.kind}`);
  return Buffer.from(r.body).toString();
}

const whoami = async (p: WorkerPool) => JSON.parse(body(await p.invoke(fnRequest('whoami')))) as { pid: number; uid: number };

/** A process's argv, with its sandbox folder written as DIR. */
function argvOf(pid: number): string[] {
  const argv = readFileSync(`/proc/${pid}/cmdline`, 'latin1').split('\0').filter(Boolean);
  const dir = sandboxDirOf(pid);
  return argv.map((a) => a.split(dir).join('DIR'));
}

/** The folder a sandboxed process may read: its first --allow-fs-read. */
function sandboxDirOf(pid: number): string {
  const argv = readFileSync(`/proc/${pid}/cmdline`, 'latin1').split('\0');
  const flag = argv.find((a) => a.startsWith('--allow-fs-read='));
  expect(flag, argv.join(' ')).toMatch(/tftpfn-functions-.*\/$/);
  return flag!.slice('--allow-fs-read='.length, -1);
}

/** Takes a spare with a first pool (none is idle yet), then waits for one. */
async function warmedSpare(): Promise<{ spare: WarmSpare; pid: number }> {
  const spare = newSpare();
  await startPool({ spare });
  await spare.idle();
  expect(spare.pid).toBeDefined();
  return { spare, pid: spare.pid! };
}

beforeAll(async () => {
  hostile = await buildFixture('hostile');
});

afterAll(async () => {
  await Promise.all(pools.map((p) => p.close()));
  await Promise.all(spares.map((s) => s.close()));
});

describe('warm spare: lifecycle with real processes', () => {
  test('warm spare: a pool adopts the idle process, which serves; a new spare is started after the adoption', async () => {
    const { spare, pid } = await warmedSpare();
    const pool = await startPool({ spare, version: 'v2' });
    expect(spare.stats.adopted).toBe(1);
    expect((await whoami(pool)).pid).toBe(pid);
    await spare.idle();
    expect(spare.pid).toBeDefined();
    expect(spare.pid).not.toBe(pid);
    expect(alive(spare.pid!)).toBe(true);
  });

  test('warm spare: an idle spare that is killed is replaced', async () => {
    const { spare, pid } = await warmedSpare();
    process.kill(pid, 'SIGKILL');
    expect(await eventually(() => spare.stats.died === 1)).toBe(true);
    await spare.idle();
    expect(spare.pid).toBeDefined();
    expect(spare.pid).not.toBe(pid);
    // The replacement is adoptable like the first.
    const pool = await startPool({ spare, version: 'v2' });
    expect(spare.stats.adopted).toBe(1);
    expect((await whoami(pool)).pid).not.toBe(pid);
  });

  test('warm spare: a pool with other limits does not adopt it; the spare is replaced by one of the new shape', async () => {
    const { spare, pid } = await warmedSpare();
    const pool = await startPool({ spare, version: 'v2', heapMb: 96 });
    expect(spare.stats.adopted).toBe(0);
    expect((await whoami(pool)).pid).not.toBe(pid);
    expect(await eventually(() => !alive(pid))).toBe(true);
    await spare.idle();
    expect(argvOf(spare.pid!)).toContain('--max-old-space-size=96');
  });

  test('warm spare: close kills the idle process and removes its folder; an adopted one ends with its pool', async () => {
    const { spare, pid } = await warmedSpare();
    const dir = sandboxDirOf(pid);
    expect(existsSync(dir)).toBe(true);
    const pool = await startPool({ spare, version: 'v2' });
    await spare.idle();
    const idlePid = spare.pid!;
    await spare.close();
    expect(alive(idlePid)).toBe(false);
    expect(spare.pid).toBeUndefined();
    // The adopted process belongs to the pool now: it serves until the pool closes, then goes with its folder.
    expect((await whoami(pool)).pid).toBe(pid);
    await pool.close();
    expect(alive(pid)).toBe(false);
    expect(existsSync(dir)).toBe(false);
  });
});

describe('warm spare: an adopted process has the rights of a dedicated one', () => {
  test('warm spare: its command line equals a dedicated process\'s but for its own folder', async () => {
    const { spare } = await warmedSpare();
    const adopted = await startPool({ spare, version: 'v2' });
    const dedicated = await startPool({ version: 'v3' });
    const a = await whoami(adopted);
    const d = await whoami(dedicated);
    expect(a.pid).not.toBe(d.pid);
    expect(a.uid).toBe(d.uid);
    expect(argvOf(a.pid)).toEqual(argvOf(d.pid));
    // The environment too (sh sets PWD: the process's own folder, its working directory).
    const environ = (pid: number) => readFileSync(`/proc/${pid}/environ`, 'latin1').split(sandboxDirOf(pid)).join('DIR');
    expect(environ(a.pid)).toBe(environ(d.pid));
  });

  test('warm spare: the adopted bundle cannot read a file outside its folder, its environment or the gateway\'s command line', async () => {
    const { spare } = await warmedSpare();
    const pool = await startPool({ spare, version: 'v2' });
    const secretDir = mkdtempSync(join(tmpdir(), 'tftpfn-spare-outside-'));
    writeFileSync(join(secretDir, 'secret.txt'), 'not for functions');
    for (const [path, options] of [['read-file', { file: join(secretDir, 'secret.txt') }], ['read-file', {}], ['read-environ', {}], ['read-parent-cmdline', {}]] as const) {
      const outcome = await pool.invoke(fnRequest(path, options)).then(
        (r) => ({ succeeded: r.kind === 'bytes' ? body(r).slice(0, 100) : r.kind }),
        (e: { cause?: unknown }) => ({ failed: e.cause }),
      );
      expect(outcome, `${path} ${JSON.stringify(options)}`).not.toHaveProperty('succeeded');
      const why = (outcome as { failed: FunctionFailure }).failed;
      expect(why).toBeInstanceOf(FunctionFailure);
      expect(why.message, path).toMatch(/Access to this API has been restricted|ERR_ACCESS_DENIED|EACCES|permission/i);
    }
    expect(spare.stats.adopted).toBe(1);
  });
});

describe('warm spare: in a gateway', () => {
  test('warm spare: functions.NAME.warmSpare keeps one idle process, and close leaves none', async () => {
    const root = mkdtempSync(join(tmpdir(), 'tftpfn-spare-gw-'));
    const before = new Set(sandboxHosts(process.pid));
    const gw = await startGateway({
      config: { hosts: ['127.0.0.1'], port: 0, root, logLevel: 'silent', functions: { hostile: { entry: join(FIXTURES, 'hostile.ts'), poolSize: 1, warmSpare: true } }, defaultRoute: { function: 'hostile' } },
      logger: log,
    });
    let pids: number[] = [];
    try {
      const r = await get({ host: '127.0.0.1', port: gw.port, path: 'whoami', timeoutMs: 2000, retries: 3 });
      const worker = (JSON.parse(Buffer.from(r.data!).toString()) as { pid: number }).pid;
      // The spare: another child of this process running a sandbox host, besides the worker.
      const both = await eventually(() => {
        pids = sandboxHosts(process.pid).filter((p) => !before.has(p));
        return pids.length === 2;
      });
      expect(both, `sandbox processes ${pids.join(', ')}`).toBe(true);
      expect(pids).toContain(worker);
    } finally {
      await gw.close(0);
    }
    for (const pid of pids) expect(alive(pid), `pid ${pid}`).toBe(false);
  });
});
