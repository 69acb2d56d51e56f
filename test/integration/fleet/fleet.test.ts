/**
 * The fleet (issue 12), real parts on loopback only: three `tftpfn serve` processes on
 * 127.0.0.1, 127.0.0.2 and 127.0.0.3 (one port), one Redis (a single server, and again a
 * 3-master Cluster), one S3-protocol server (s3rver) holding the bundles, and the operator's
 * `tftpfn deploy / rollout / rollback` commands. Every response names the version that made it
 * (each deploy's code differs by a marker), and every session record in the Redis stream names
 * the version its session ran, so a test can check that each response came from exactly the
 * version its record names.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { get } from '../../../client/index.js';
import type { SessionRecord } from '../../../gateway/src/index.js';
import { REPO, runCli, spawnCli, type CliRun } from '../../helpers/cli.js';
import { freePort } from '../../helpers/free-port.js';
import type { RespReply, TestRedis } from '../../helpers/redis-server.js';
import type { TestCluster } from '../../helpers/redis-cluster.js';
import { startTopology, type RedisTopologyKind, type TestTopology } from '../../helpers/redis-topology.js';
import { startS3rver, type TestS3rver } from '../../helpers/s3rver.js';
import { clientIdentity, picksCanary } from '../../../gateway/src/runtime/canary-pick.js';
import { addressesIn24 } from '../admission-helpers.js';

const FN = 'versioned';
const HOSTS = ['127.0.0.1', '127.0.0.2', '127.0.0.3'];
const KEY = 'a5'.repeat(32);
const BIG = 8 * 1024 * 1024;
const ENV = { TFTPFN_DEPLOY_AUTHOR: 'fleet-test', TFTPFN_SECRETS_KEY: undefined, TFTPFN_CONFIG: undefined, TFTPFN_DEPLOY_DIR: undefined, TFTPFN_REDIS_URL: undefined };

/** A MAC in the dashed folder form (sdk/mac.ts), 52-54-GG-NN-NN-NN: distinct for each (group < 256, n < 2^24). */
function macOf(group: number, n: number): string {
  return [0x52, 0x54, group, (n >> 16) & 255, (n >> 8) & 255, n & 255].map((b) => b.toString(16).padStart(2, '0')).join('-');
}

// The fixture whose every line names its version; its blob- paths may sit under a MAC folder.
const FIXTURE = readFileSync(join(REPO, 'test/fixtures/functions/versioned.ts'), 'utf8').replace('/^blob-(\\d+)$/', '/(?:^|\\/)blob-(\\d+)$/');

interface Gw {
  host: string;
  id: string;
  run: CliRun;
  /** Its log lines (JSON), for the message of a failure. */
  lines: string[];
}

/** Runs the jobs on `width` concurrent lanes, in order. */
async function runJobs(jobs: (() => Promise<void>)[], width: number): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: width }, async () => {
    while (next < jobs.length) await jobs[next++]();
  }));
}

/** Whether the child has ended, by exit or by a signal. */
const ended = (run: CliRun) => run.child.exitCode !== null || run.child.signalCode !== null;

async function until(what: string, check: () => Promise<boolean>, ms: number): Promise<number> {
  const t0 = Date.now();
  for (;;) {
    if (await check()) return Date.now() - t0;
    if (Date.now() - t0 > ms) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe.each(['single', 'cluster'] as RedisTopologyKind[])('a fleet of three gateways on Redis (%s) and the bucket', (kind) => {
  let work: string;
  let redis: TestTopology;
  let s3: TestS3rver;
  let port: number;
  const gateways: Gw[] = [];
  /** Version id -> the marker its code answers with. */
  const markerOf = new Map<string, string>();
  let deploys = 0;

  const tftpfn = (args: string[]) => runCli([...args, '-c', join(work, 'deployer.json')], { cwd: work, env: ENV, timeoutMs: 60_000 });

  /** Writes a new version of the function's code answering `marker`, deploys it, and returns its id. */
  async function deploy(marker: string, extra: string[] = []): Promise<string> {
    mkdirSync(join(work, FN), { recursive: true });
    writeFileSync(join(work, FN, 'index.ts'), FIXTURE.replace('__VERSION__', marker));
    const r = await tftpfn(['deploy', FN, '-m', marker, ...extra]);
    expect(r.code, `deploy ${marker}: ${r.stdout}\n${r.stderr}`).toBe(0);
    const id = /deployed version (\S+),/.exec(r.stdout)![1];
    markerOf.set(id, marker);
    deploys++;
    return id;
  }

  function gatewayConfig(id: string): string {
    const file = join(work, `${id}.json`);
    writeFileSync(
      file,
      JSON.stringify({
        port,
        gatewayId: id,
        root: work,
        redisUrl: redis.url,
        ...s3.gatewayConfig,
        controlBucket: `fleet-${kind}`,
        controlPrefix: 'ctl/',
        controlCacheDir: join(work, `cache-${id}`),
        controlPollMs: 1000,
        secretsKey: KEY,
        statsFlushMs: 100,
        cacheHmacKey: 'fleet-test-key-0123456789abcdef0123456789',
        maxSessionsPerClient: 100_000,
        defaultRoute: { function: FN },
        functions: { [FN]: { poolSize: 2 } },
      }),
    );
    return file;
  }

  /** Starts `tftpfn serve` on one address and waits for its listening line. */
  async function startGateway(host: string, id: string): Promise<Gw> {
    const run = spawnCli(['serve', '-c', gatewayConfig(id), '--host', host], { cwd: work, env: ENV, timeoutMs: 600_000 });
    let out = '';
    const lines: string[] = [];
    run.child.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      const at = out.lastIndexOf('\n');
      if (at < 0) return;
      lines.push(...out.slice(0, at).split('\n'));
      out = out.slice(at + 1);
      if (lines.length > 20_000) lines.splice(0, lines.length - 20_000);
    });
    await until(`${id} listening`, async () => lines.some((l) => l.includes('"event":"listening"')) || ended(run), 30_000);
    if (ended(run)) {
      const r = await run.done;
      throw new Error(`${id} exited (${r.code ?? run.child.signalCode}): ${r.stderr}\n${lines.join('\n')}`);
    }
    return { host, id, run, lines };
  }

  async function stop(g: Gw, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    if (ended(g.run)) return; // a process killed by a signal has no exit code, and no second exit event
    const exited = new Promise((r) => g.run.child.once('exit', r));
    g.run.child.kill(signal);
    await exited;
  }

  /** What one gateway answers for a path (asked from `from`, a loopback address, when given): the marker of the version that served it. */
  async function answer(host: string, path: string, big = false, from?: string): Promise<string> {
    const r = await get({ host, port, path, blksize: 1468, windowsize: big ? 16 : 1, timeoutMs: 1000, retries: 5, localAddress: from });
    const lines = new Set(Buffer.from(r.data!).toString().split('\n').filter(Boolean));
    if (lines.size !== 1) throw new Error(`${path} from ${host}: mixed versions ${[...lines].join(',')}`);
    if (big && r.data!.length < BIG - 64) throw new Error(`${path} from ${host}: ${r.data!.length} bytes`);
    return [...lines][0];
  }

  /** The whole stream, read in pages (it holds every session of the file, over 10,000). */
  async function streamRecords(): Promise<SessionRecord[]> {
    const out: SessionRecord[] = [];
    for (let from = '-'; ; ) {
      const page = (await redis.cli('XRANGE', 'tftpfn:sessions', from, '+', 'COUNT', 2000)) as RespReply[];
      for (const item of page) {
        const fields = (item as RespReply[])[1] as Buffer[];
        const at = fields.findIndex((f) => f.toString() === 'r');
        out.push(JSON.parse(fields[at + 1].toString()) as SessionRecord);
      }
      if (page.length < 2000) return out;
      from = `(${String((page[page.length - 1] as RespReply[])[0])}`;
    }
  }

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), `tftpfn-fleet-${kind}-`));
    [redis, s3] = await Promise.all([startTopology(kind), startS3rver()]);
    await s3.createBucket(`fleet-${kind}`);
    port = await freePort('udp');
    writeFileSync(join(work, 'deployer.json'), JSON.stringify({ root: work, redisUrl: redis.url, ...s3.gatewayConfig, controlBucket: `fleet-${kind}`, controlPrefix: 'ctl/', secretsKey: KEY }));
    // A first version before any gateway starts: each loads it before it listens.
    await deploy('v1');
    for (const [i, host] of HOSTS.entries()) gateways.push(await startGateway(host, `gw${i + 1}-${kind}`));
  }, 180_000);

  afterAll(async () => {
    for (const g of gateways) await stop(g, 'SIGKILL');
    await s3?.stop();
    await redis?.cleanup();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  test('every gateway serves what was current when it started, and a deploy reaches all three within 2 s of deploy returning', async () => {
    for (const g of gateways) expect(await answer(g.host, 'start')).toBe('v1');
    await deploy('v2');
    const ms = await Promise.all(gateways.map((g) => until(`${g.id} serves v2`, async () => (await answer(g.host, 'probe')) === 'v2', 2000)));
    console.log(`fleet (${kind}): v2 served by the three gateways ${ms.join(', ')} ms after deploy returned`);
  });

  test('a 30% canary over 1,000 client identities: 30% ± 5%, and each identity keeps its version over 10 requests on all three gateways', async () => {
    const stable = 'v2';
    await deploy('v3', ['--percent', '30']);
    // deploy returned after every live gateway acknowledged the canary.
    const perIdentity: string[][] = Array.from({ length: 1000 }, () => []);
    const jobs: (() => Promise<void>)[] = [];
    for (let i = 0; i < 1000; i++) {
      const mac = macOf(0, i);
      for (let j = 0; j < 10; j++) jobs.push(async () => void perIdentity[i].push(await answer(HOSTS[(i + j) % 3], `${mac}/c-${j}`)));
    }
    await runJobs(jobs, 24);
    const switched = perIdentity.filter((seen) => new Set(seen).size !== 1);
    expect(switched.length, `identities that changed version: ${switched.slice(0, 3).map((s) => s.join(',')).join(' | ')}`).toBe(0);
    const share = perIdentity.filter((seen) => seen[0] === 'v3').length / 1000;
    expect(perIdentity.every((seen) => seen[0] === 'v3' || seen[0] === stable)).toBe(true);
    console.log(`fleet (${kind}): canary share ${(share * 100).toFixed(1)}% of 1,000 identities`);
    expect(share).toBeGreaterThanOrEqual(0.25);
    expect(share).toBeLessThanOrEqual(0.35);
  });

  test('the same canary by IP: 50 clients with no MAC in the path, on 127.0.0.10-59, split by address, each keeping its version over 10 requests on all three gateways', async () => {
    // Still the 30% canary of v3 over v2 from the test before. Linux routes all of 127/8 to lo, so
    // each client binds its own source address and the gateways see 50 distinct peers.
    const clients = addressesIn24('127.0.0.10', 50);
    const perClient: string[][] = clients.map(() => []);
    const jobs: (() => Promise<void>)[] = [];
    for (const [c, from] of clients.entries()) {
      for (let j = 0; j < 10; j++) jobs.push(async () => void perClient[c].push(await answer(HOSTS[(c + j) % 3], `ip-${kind}-${c}-${j}`, false, from)));
    }
    await runJobs(jobs, 12);
    const switched = clients.filter((_, c) => new Set(perClient[c]).size !== 1);
    expect(switched, `clients that changed version: ${switched.map((a) => `${a}: ${perClient[clients.indexOf(a)].join(',')}`).join(' | ')}`).toEqual([]);
    // The side each client lands on is the pick for its address (no MAC in 'ip-...'), as every gateway computes it.
    const expected = clients.map((from, c) => (picksCanary(clientIdentity(`ip-${kind}-${c}-0`, from), FN, 30) ? 'v3' : 'v2'));
    expect(perClient.map((seen) => seen[0])).toEqual(expected);
    const onCanary = expected.filter((v) => v === 'v3').length;
    console.log(`fleet (${kind}): canary by IP: ${onCanary} of ${clients.length} addresses on v3`);
    expect(onCanary).toBeGreaterThan(0);
    expect(onCanary).toBeLessThan(clients.length);
  });

  test('a promote reaches all three within 2 s', async () => {
    expect((await tftpfn(['rollout', FN, '--promote'])).code).toBe(0);
    await Promise.all(gateways.map((g) => until(`${g.id} promoted`, async () => (await answer(g.host, 'after-promote')) === 'v3', 2000)));
  });

  test('rollback reaches all three within 2 s', async () => {
    const r = await tftpfn(['rollback', FN]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const ms = await Promise.all(gateways.map((g) => until(`${g.id} rolled back`, async () => (await answer(g.host, 'after-rollback')) === 'v2', 2000)));
    console.log(`fleet (${kind}): rollback served by the three gateways ${ms.join(', ')} ms after rollback returned`);
  });

  test('a version that throws at import is refused: deploy exits non-zero and every gateway stays on the previous version', async () => {
    writeFileSync(join(work, FN, 'index.ts'), `throw new Error('broken at import');\nexport const handle = () => null;\n`);
    const r = await tftpfn(['deploy', FN]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('broken at import');
    for (const g of gateways) expect(await answer(g.host, 'after-reject')).toBe('v2');
  });

  test('deploy, canary, promote and rollback under continuous load from many clients: zero failed transfers, both versions serve the canary, each response from the version its record names', async () => {
    // Twelve clients at once: eight name a new machine (a MAC folder) in every path, four name
    // none and are known by their own loopback address; clients 0, 4 and 8 fetch an 8 MiB file
    // every fourth transfer. So during the canary both versions take load, by MAC and by IP.
    const MAC_CLIENTS = 8;
    const IP_CLIENTS = addressesIn24('127.0.0.100', 4);
    interface Seen { host: string; path: string; marker: string; startMs: number; endMs: number }
    const failures: string[] = [];
    const seen: Seen[] = [];
    let stop = false;
    const loop = async (k: number) => {
      const from = k < MAC_CLIENTS ? undefined : IP_CLIENTS[k - MAC_CLIENTS];
      for (let i = 0; !stop && i < 20_000; i++) {
        const big = k % 4 === 0 && i % 4 === 0;
        const host = HOSTS[(k + i) % 3];
        const file = `load-${kind}-${k}-${i}${big ? `/blob-${BIG}` : ''}`;
        const path = from ? file : `${macOf(1 + k, i)}/${file}`;
        const startMs = Date.now();
        try {
          const marker = await answer(host, path, big, from);
          seen.push({ host, path, marker, startMs, endMs: Date.now() });
        } catch (e) {
          // What the gateway said about this path, if anything: a failure names its cause.
          const said = gateways.find((g) => g.host === host)?.lines.filter((l) => l.includes(path)).slice(-3) ?? [];
          failures.push(`${path} from ${host}: ${(e as Error).message}; its log: ${said.join(' | ') || '(nothing)'}`);
        }
      }
    };
    const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));
    const loops = Array.from({ length: MAC_CLIENTS + IP_CLIENTS.length }, (_, k) => loop(k));
    await pause(1000);
    await deploy('v4');
    await pause(1000);
    await deploy('v5', ['--percent', '40']);
    // Every live gateway acknowledged the canary when deploy returned: sessions from here to the promote are split.
    const canaryFromMs = Date.now();
    await pause(2000);
    const canaryToMs = Date.now();
    expect((await tftpfn(['rollout', FN, '--promote'])).code).toBe(0);
    await pause(1000);
    expect((await tftpfn(['rollback', FN])).code).toBe(0);
    await pause(1000);
    stop = true;
    await Promise.all(loops);
    expect(failures, failures.join('\n')).toEqual([]);
    expect(seen.length).toBeGreaterThan(200);
    expect(new Set(seen.map((s) => s.marker)).size).toBeGreaterThan(1);

    // Each response against its session record in the Redis stream (same file, same gateway address).
    let records: SessionRecord[] = [];
    await until('every load record in the stream', async () => {
      records = (await streamRecords()).filter((r) => r.file.includes(`load-${kind}-`));
      return records.length >= seen.length;
    }, 30_000);
    const byKey = new Map(records.map((r) => [`${r.local.address} ${r.file}`, r]));
    const wrong = seen.filter((s) => {
      const r = byKey.get(`${s.host} ${s.path}`);
      return !r || r.outcome !== 'ok' || markerOf.get(r.version ?? '') !== s.marker;
    });
    expect(wrong.slice(0, 5), `${wrong.length} of ${seen.length} responses disagree with their records`).toEqual([]);

    // The canary: sessions begun after deploy v5 returned and over before the promote began.
    const canary = seen.filter((s) => s.startMs >= canaryFromMs && s.endMs <= canaryToMs);
    const record = (s: Seen) => byKey.get(`${s.host} ${s.path}`)!;
    const byIp = canary.filter((s) => clientIdentity(s.path, record(s).peer.address).startsWith('ip:'));
    const count = (list: Seen[], marker: string) => list.filter((s) => s.marker === marker).length;
    const split = `${count(canary, 'v4')} on v4 and ${count(canary, 'v5')} on v5 (by IP: ${count(byIp, 'v4')} and ${count(byIp, 'v5')})`;
    console.log(`fleet (${kind}): ${canary.length} transfers during the 40% canary: ${split}`);
    expect(count(canary, 'v4'), split).toBeGreaterThan(0);
    expect(count(canary, 'v5'), split).toBeGreaterThan(0);
    expect(count(canary, 'v4') + count(canary, 'v5')).toBe(canary.length);
    // Each on the side its client's pick names (MAC, else the peer address the gateway saw).
    const offSide = canary.filter((s) => s.marker !== (picksCanary(clientIdentity(s.path, record(s).peer.address), FN, 40) ? 'v5' : 'v4'));
    expect(offSide.slice(0, 5), `${offSide.length} of ${canary.length} canary responses on the wrong side`).toEqual([]);
    expect(new Set(byIp.map((s) => s.marker)).size, split).toBe(2);
    console.log(`fleet (${kind}): ${seen.length} transfers under load from ${loops.length} clients across ${deploys} deploys, 0 failed`);
  });

  test('a gateway killed and restarted comes back on the current version', async () => {
    const current = await answer(HOSTS[0], 'current');
    await stop(gateways[1], 'SIGKILL');
    gateways[1] = await startGateway(HOSTS[1], gateways[1].id);
    expect(await answer(HOSTS[1], 'after-restart')).toBe(current);
  });

  test('a gateway started while Redis is down serves its cached versions, then catches up when Redis returns', async () => {
    const current = await answer(HOSTS[0], 'before-outage');
    // The whole of Redis goes: the single server, or every node of the Cluster.
    const outage =
      kind === 'single'
        ? { stop: () => (redis.server as TestRedis).stop(), start: () => (redis.server as TestRedis).start() }
        : { stop: () => (redis.server as TestCluster).stopAll(), start: () => (redis.server as TestCluster).startAll() };
    await stop(gateways[2], 'SIGKILL');
    await outage.stop();
    gateways[2] = await startGateway(HOSTS[2], gateways[2].id);
    expect(await answer(HOSTS[2], 'during-outage')).toBe(current);
    await outage.start();
    // The test servers keep no data over a restart: the deploy after it is what there is to catch up to.
    await deploy('v6');
    await until('the restarted gateway catches up', async () => (await answer(HOSTS[2], 'after-outage')) === 'v6', 15_000);
  });
});
