/**
 * `tftpfn stats` and `tftpfn tail` as a user runs them (the built CLI, `npm run build`),
 * against a real redis-server filled by a real gateway through RedisStatsSink: on one server,
 * behind Sentinel and on a 3-master Cluster, with the same assertions.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { pino } from 'pino';
import { get } from '../../client/index.js';
import { startGateway, type RunningGateway, type SessionRecord } from '../../gateway/src/index.js';
import { RedisStatsSink } from '../../gateway/src/stats/redis-sink.js';
import type { StatsView } from '../../gateway/src/cli/stats.js';
import { makeRoot } from '../helpers/gateway.js';
import { eventually } from '../helpers/functions.js';
import { REDIS_TOPOLOGIES, startTopology, type TestTopology } from '../helpers/redis-topology.js';
import { spawnCli } from '../helpers/cli.js';
import { freePort } from '../helpers/free-port.js';

const repo = join(dirname(fileURLToPath(import.meta.url)), '../..');
const GATEWAY_ID = 'gw-cli';
const fast = { timeoutMs: 300, retries: 5 };

beforeAll(() => {
  if (!existsSync(join(repo, 'dist/gateway/src/cli/tail.js'))) {
    const r = spawnSync('npm', ['run', 'build', '--silent'], { cwd: repo, stdio: 'inherit' });
    if (r.status !== 0) throw new Error('npm run build failed');
  }
});

describe('tftpfn stats: usage', () => {
  test('stats without a Redis URL says how to give one, exit 2', async () => {
    const r = await spawnCli(['stats', '--once'], { env: { TFTPFN_REDIS_URL: undefined }, timeoutMs: 20_000 }).done;
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('pass --redis-url redis://HOST:PORT or set TFTPFN_REDIS_URL');
  });

  test('tail against Sentinels that are all down says so and exits 2 within the connect bound', async () => {
    // tail reconnects (a live view outlives a restart), so only the 5 s connect bound ends this.
    const url = `redis-sentinel://127.0.0.1:${await freePort()}/mymaster`;
    const r = await spawnCli(['tail', '--count', '1', '--redis-url', url], { timeoutMs: 20_000 }).done;
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`tftpfn tail: cannot reach Redis at ${url} (`);
    // The bound, plus the CLI's start and ioredis's ~2 s before the process exits.
    expect(r.ms).toBeLessThan(12_000);
  });
});

describe.each(REDIS_TOPOLOGIES)('on %s Redis', (kind) => {
  let redis: TestTopology;
  let gw: RunningGateway;
  let sink: RedisStatsSink;
  const records: SessionRecord[] = [];

  beforeAll(async () => {
    redis = await startTopology(kind);
    sink = new RedisStatsSink({
      url: redis.url,
      gatewayId: GATEWAY_ID,
      streamKey: 'tftpfn:sessions',
      maxLen: 10_000,
      counterTtlSeconds: 3600,
      bufferMax: 10_000,
      flushMs: 20,
      logger: pino({ level: 'silent' }),
    });
    gw = await startGateway({
      config: { hosts: ['127.0.0.1'], port: 0, gatewayId: GATEWAY_ID, root: makeRoot({ 'exact.bin': Buffer.alloc(2048, 1), 'other.txt': 'hi' }) },
      logger: pino({ level: 'silent' }),
      onSession: (r) => {
        records.push(r);
        sink.push(r);
      },
    });
    // 6 ok, 4 not-found: everything below checks these numbers.
    for (let i = 0; i < 10; i++) {
      await get({ host: '127.0.0.1', port: gw.port, path: i < 6 ? 'exact.bin' : `missing-${i}`, blksize: 512, ...fast }).catch(() => undefined);
    }
    if (!(await eventually(() => sink.stats.flushed === 10, 10_000))) throw new Error(`records not flushed: ${JSON.stringify(sink.stats)}`);
  });

  afterAll(async () => {
    await gw?.close(0);
    await sink?.close();
    await redis?.cleanup();
  });

  const tftpfn = (args: string[], env: Record<string, string | undefined> = {}) => spawnCli(args, { env: { TFTPFN_REDIS_URL: redis.url, ...env }, timeoutMs: 20_000 });

  const run = (args: string[], env?: Record<string, string | undefined>) => tftpfn(args, env).done;

  describe('tftpfn stats', () => {
    test('stats --once --json: per gateway and per function counts, rates, outcomes, top files and clients', async () => {
      const r = await run(['stats', '--once', '--json', '--redis-url', redis.url]);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      const view = JSON.parse(r.stdout) as StatsView;
      const g = view.gateways[GATEWAY_ID];
      expect(g).toMatchObject({ sessions: 10, bytes: 6 * 2048, blocks: 6 * 5, errors: 4, outcomes: { ok: 6, 'not-found': 4 } });
      expect(g.lastSeenMs).toBe(Math.max(...records.map((x) => Date.parse(x.endedAt))));
      expect(g.sessionsPerSec).toBeCloseTo(10 / view.windowSeconds, 2);
      expect(view.functions['-']).toMatchObject({ sessions: 10, errors: 4 });
      expect(view.topFiles[0]).toEqual({ file: 'exact.bin', sessions: 6 });
      expect(view.topFiles).toHaveLength(5);
      expect(view.topPeers).toEqual([{ peer: '127.0.0.1', sessions: 10 }]);
      expect(view.minutes).toHaveLength(2);
    });

    test('stats --once: text tables name the gateway, the outcomes and the top file', async () => {
      const r = await run(['stats', '--once']);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`^${GATEWAY_ID}\\s+\\d+ s ago\\s+[0-9.]+\\s+[0-9.]+\\s+10\\s+4\\s+ok=6 not-found=4$`, 'm'));
      expect(r.stdout).toMatch(/^exact\.bin\s+6$/m);
      expect(r.stdout).toMatch(/^127\.0\.0\.1\s+10$/m);
    });

  });

  describe('tftpfn tail', () => {
    test('tail --from-start --json --outcome not-found --count 4: the four failures, as records', async () => {
      const r = await run(['tail', '--count', '4', '--from-start', '--json', '--outcome', 'not-found']);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as SessionRecord);
      expect(lines.map((l) => l.file)).toEqual(['missing-6', 'missing-7', 'missing-8', 'missing-9']);
      expect(lines.every((l) => l.outcome === 'not-found' && l.gateway === GATEWAY_ID && l.errorCode === 1)).toBe(true);
    });

    test('tail human lines: --peer CIDR and --file glob filter; each line has time, gateway, peer, file, outcome, bytes, duration', async () => {
      const r = await run(['tail', '--count', '6', '--from-start', '--peer', '127.0.0.0/8', '--file', 'exact.*']);
      expect(r.code).toBe(0);
      const lines = r.stdout.trim().split('\n');
      expect(lines).toHaveLength(6);
      for (const l of lines) expect(l).toMatch(/^\d{4}-\d\d-\d\dT\S+Z {2}gw-cli {2}127\.0\.0\.1:\d+ {2}"exact\.bin" {2}ok {2}2048 B {2}[0-9.]+ ms {2}-$/);
    });

    test('tail follows live: records written after it starts are printed, older ones are not', async () => {
      await get({ host: '127.0.0.1', port: gw.port, path: 'other.txt', ...fast });
      // The record follows the client's last ACK by a moment, then the flush.
      if (!(await eventually(() => records.some((x) => x.file === 'other.txt') && sink.stats.flushed === records.length, 5000))) {
        throw new Error('the earlier record was not flushed');
      }
      const old = records.filter((x) => x.file === 'other.txt').map((x) => x.id);
      expect(old).toHaveLength(1);
      const t = tftpfn(['tail', '--count', '2', '--json', '--file', 'other.txt']);
      // The tail has no "ready" signal: keep transferring until it has seen two (bounded).
      let exited = false;
      void t.done.then(() => (exited = true), () => (exited = true));
      for (let i = 0; i < 40 && !exited; i++) {
        await get({ host: '127.0.0.1', port: gw.port, path: 'other.txt', ...fast });
        await new Promise((r) => setTimeout(r, 100));
      }
      const r = await t.done;
      expect(r.code).toBe(0);
      const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as SessionRecord);
      expect(lines).toHaveLength(2);
      expect(lines.every((l) => l.file === 'other.txt' && l.bytes === 2)).toBe(true);
      expect(lines.map((l) => l.id)).not.toContain(old[0]);
    });
  });
});
