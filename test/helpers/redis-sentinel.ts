/**
 * A Sentinel-managed Redis on loopback for integration tests: one master, one replica and a
 * Sentinel pair (two Sentinels, quorum 1) on free ports, each a child process with its files in
 * one temp folder. `url` is the redis-sentinel:// URL a gateway is given.
 *
 * The Sentinels are tuned for tests (down-after 1 s and 2 s, failover-timeout 3 s): `failover()` kills
 * the master and waits until the Sentinels name the replica, bounded. A failover needs a
 * majority of the known Sentinels to elect a leader, so both Sentinels stay up.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from './free-port.js';
import { withProcessGroup } from './process-group.js';
import { respCommand, type RespReply } from './redis-server.js';
import { replyText, spawnRedisProcess, waitUntil } from './redis-process.js';

export const SENTINEL_MASTER_NAME = 'tftpfn-test';

export interface TestSentinel {
  readonly url: string;
  readonly sentinelPorts: readonly number[];
  /** The port of the data node the Sentinels currently name master. */
  masterPort(): Promise<number>;
  /** One command to the current master over a fresh RESP connection. */
  cli(...args: (string | Buffer | number)[]): Promise<RespReply>;
  /** Kills the master and waits (bounded) until the Sentinels promote the replica; returns the new master's port. */
  failover(timeoutMs?: number): Promise<number>;
  /** Stops every process and removes the folder. */
  cleanup(): Promise<void>;
}

export async function startRedisSentinel(opts: { startTimeoutMs?: number } = {}): Promise<TestSentinel> {
  const startTimeoutMs = opts.startTimeoutMs ?? 15_000;
  // repl-diskless-sync-delay 0: Redis 7 otherwise waits 5 s for more replicas before the first sync.
  const common = ['--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'no', '--loglevel', 'warning', '--repl-diskless-sync-delay', '0'];
  return withProcessGroup('tftpfn-sentinel-', async ({ dir, procs, stop }) => {
    const masterPort = await freePort();
    const replicaPort = await freePort();
    procs.push(await spawnRedisProcess(masterPort, ['--port', String(masterPort), '--dir', dir, '--dbfilename', `m-${masterPort}.rdb`, ...common]));
    procs.push(
      await spawnRedisProcess(replicaPort, [
        '--port', String(replicaPort), '--dir', dir, '--dbfilename', `r-${replicaPort}.rdb`, '--replicaof', '127.0.0.1', String(masterPort), ...common,
      ]),
    );
    await waitUntil(
      async () => /master_link_status:up/.test(replyText(await respCommand(replicaPort, ['INFO', 'replication'], 1000))),
      startTimeoutMs,
      'the replica to sync with the master',
    );
    const sentinelPorts = [await freePort(), await freePort()];
    for (const [i, port] of sentinelPorts.entries()) {
      // Sentinel rewrites its config file: one writable file per Sentinel.
      const conf = join(dir, `sentinel-${port}.conf`);
      writeFileSync(
        conf,
        [
          `port ${port}`,
          'bind 127.0.0.1',
          'daemonize no',
          `dir ${dir}`,
          'loglevel warning',
          `sentinel monitor ${SENTINEL_MASTER_NAME} 127.0.0.1 ${masterPort} 1`,
          // Staggered: the first Sentinel to see the master down asks for votes alone and gets both.
          // Two asking at once split the vote, and the next election waits 2 x failover-timeout
          // (measured: 12.6 s instead of 2.1 s).
          `sentinel down-after-milliseconds ${SENTINEL_MASTER_NAME} ${1000 + i * 1000}`,
          `sentinel failover-timeout ${SENTINEL_MASTER_NAME} 3000`,
          `sentinel parallel-syncs ${SENTINEL_MASTER_NAME} 1`,
          '',
        ].join('\n'),
      );
      procs.push(await spawnRedisProcess(port, [conf, '--sentinel']));
    }
    // Ready when each Sentinel knows the replica and the other Sentinel (needed to elect a leader).
    for (const port of sentinelPorts) {
      await waitUntil(
        async () => {
          const replicas = (await respCommand(port, ['SENTINEL', 'REPLICAS', SENTINEL_MASTER_NAME], 1000)) as RespReply[];
          const sentinels = (await respCommand(port, ['SENTINEL', 'SENTINELS', SENTINEL_MASTER_NAME], 1000)) as RespReply[];
          return Array.isArray(replicas) && replicas.length === 1 && Array.isArray(sentinels) && sentinels.length === 1;
        },
        startTimeoutMs,
        `Sentinel ${port} to discover the replica and the other Sentinel`,
      );
    }

    const masterPortNow = async (): Promise<number> => {
      const addr = (await respCommand(sentinelPorts[0], ['SENTINEL', 'GET-MASTER-ADDR-BY-NAME', SENTINEL_MASTER_NAME], 1000)) as Buffer[];
      return Number(String(addr[1]));
    };
    const byPort = (port: number) => procs.find((p) => p.port === port);
    return {
      url: `redis-sentinel://${sentinelPorts.map((p) => `127.0.0.1:${p}`).join(',')}/${SENTINEL_MASTER_NAME}`,
      sentinelPorts,
      masterPort: masterPortNow,
      async cli(...args) {
        return respCommand(await masterPortNow(), args, 2000);
      },
      async failover(timeoutMs = 20_000) {
        const old = await masterPortNow();
        await byPort(old)?.kill();
        let next = old;
        await waitUntil(
          async () => {
            next = await masterPortNow();
            return next !== old && /role:master/.test(replyText(await respCommand(next, ['INFO', 'replication'], 1000)));
          },
          timeoutMs,
          'the Sentinels to promote the replica',
        );
        return next;
      },
      cleanup: stop,
    };
  });
}
