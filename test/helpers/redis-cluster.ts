/**
 * A 3-master Redis Cluster on loopback for integration tests: three `redis-server
 * --cluster-enabled yes` child processes on free ports (each with its cluster bus on a free
 * port of its own, `--cluster-port`, so no port + 10000 arithmetic can leave the range), joined
 * by `redis-cli --cluster create ... --cluster-yes`, ready when every node's CLUSTER INFO says
 * `cluster_state:ok`. Files in one temp folder, removed by cleanup(); start is bounded.
 *
 * `cli()` sends one command the way a cluster client would: to a node, following a MOVED reply
 * to the slot's owner; KEYS, DBSIZE and FLUSHALL go to every master and their replies are
 * merged, so a test can inspect the whole keyspace as it would one server's.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { freePort } from './free-port.js';
import { withProcessGroup } from './process-group.js';
import { respCommand, type RespReply } from './redis-server.js';
import { replyText, spawnRedisProcess, waitUntil } from './redis-process.js';

export const REDIS_CLI_BIN = process.env.REDIS_CLI ?? '/usr/bin/redis-cli';

export interface TestCluster {
  readonly url: string;
  readonly ports: readonly number[];
  /** How long start took, ms (processes, cluster create, every node ok). */
  readonly startMs: number;
  cli(...args: (string | Buffer | number)[]): Promise<RespReply>;
  /** SIGKILLs master `index` (no replica takes over: its slots stay down). */
  killNode(index: number): Promise<void>;
  /** Stops every node: the whole cluster is down (an outage). */
  stopAll(): Promise<void>;
  /**
   * Starts every node again on its ports with its nodes.conf, so the cluster comes back with
   * the same slot map (and, like the single test server, with no data); waits for cluster_state:ok.
   */
  startAll(): Promise<void>;
  cleanup(): Promise<void>;
}

/** Commands whose answer covers the keyspace: sent to every master, replies merged. */
const EVERY_NODE = new Set(['KEYS', 'DBSIZE', 'FLUSHALL', 'FLUSHDB']);

export async function startRedisCluster(opts: { masters?: number; startTimeoutMs?: number } = {}): Promise<TestCluster> {
  const t0 = performance.now();
  const masters = opts.masters ?? 3;
  const startTimeoutMs = opts.startTimeoutMs ?? 30_000;
  return withProcessGroup('tftpfn-cluster-', async ({ dir, procs, stop }) => {
    const ports: number[] = [];
    const nodeArgs: string[][] = [];
    for (let i = 0; i < masters; i++) {
      const port = await freePort();
      const busPort = await freePort();
      ports.push(port);
      nodeArgs.push([
        '--port', String(port), '--cluster-port', String(busPort), '--bind', '127.0.0.1',
        '--cluster-enabled', 'yes', '--cluster-config-file', join(dir, `nodes-${port}.conf`), '--cluster-node-timeout', '2000',
        '--save', '', '--appendonly', 'no', '--daemonize', 'no', '--dir', dir, '--dbfilename', `d-${port}.rdb`, '--loglevel', 'warning',
      ]);
      procs.push(await spawnRedisProcess(port, nodeArgs[i]));
    }
    await runCli(['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '0', '--cluster-yes'], startTimeoutMs);
    for (const port of ports) {
      await waitUntil(
        async () => /cluster_state:ok/.test(replyText(await respCommand(port, ['CLUSTER', 'INFO'], 1000))),
        startTimeoutMs,
        `cluster node ${port} to report cluster_state:ok`,
      );
    }
    // Every node must also agree on the slot map, or a client's first CLUSTER SLOTS may be stale.
    await waitUntil(
      async () => {
        for (const port of ports) {
          const nodes = replyText(await respCommand(port, ['CLUSTER', 'NODES'], 1000));
          if (nodes.split('\n').filter((l) => / master /.test(l) || /,master /.test(l)).length < masters) return false;
        }
        return true;
      },
      startTimeoutMs,
      'every node to see every master',
    );

    const send = async (port: number, args: (string | Buffer | number)[], hops = 0): Promise<RespReply> => {
      const reply = await respCommand(port, args, 2000);
      const moved = reply instanceof Error ? /^MOVED \d+ [^:]+:(\d+)/.exec(reply.message) : null;
      if (moved && hops < 3) return send(Number(moved[1]), args, hops + 1);
      return reply;
    };
    return {
      url: `redis-cluster://${ports.map((p) => `127.0.0.1:${p}`).join(',')}`,
      ports,
      startMs: performance.now() - t0,
      async cli(...args) {
        if (!EVERY_NODE.has(String(args[0]).toUpperCase())) return send(ports[0], args);
        const replies = await Promise.all(ports.map((p) => respCommand(p, args, 2000)));
        const failed = replies.find((r) => r instanceof Error);
        if (failed) return failed;
        if (replies.every((r) => Array.isArray(r))) return (replies as RespReply[][]).flat();
        if (replies.every((r) => typeof r === 'number')) return (replies as number[]).reduce((a, b) => a + b, 0);
        return replies[0];
      },
      killNode: (index) => procs[index].kill(),
      async stopAll() {
        await Promise.all(procs.map((p) => p.kill()));
      },
      async startAll() {
        for (let i = 0; i < ports.length; i++) procs[i] = await spawnRedisProcess(ports[i], nodeArgs[i]);
        for (const port of ports) {
          await waitUntil(
            async () => /cluster_state:ok/.test(replyText(await respCommand(port, ['CLUSTER', 'INFO'], 1000))),
            startTimeoutMs,
            `cluster node ${port} to report cluster_state:ok after a restart`,
          );
        }
      },
      cleanup: stop,
    };
  });
}

/** Runs redis-cli with a hard bound; throws with its output on a non-zero exit. */
function runCli(args: string[], timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(REDIS_CLI_BIN, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`redis-cli ${args.join(' ')} still running after ${timeoutMs} ms:\n${out}`));
    }, timeoutMs);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`redis-cli not runnable at ${REDIS_CLI_BIN} (${err.message}): apt-get install redis-tools, or set REDIS_CLI`));
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else reject(new Error(`redis-cli ${args.join(' ')} exited ${code}:\n${out}`));
    });
  });
}
