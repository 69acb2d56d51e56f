/**
 * One redis-server child process (a data node, a cluster node or a Sentinel) on a loopback
 * port, for the topology helpers (redis-sentinel.ts, redis-cluster.ts). Not daemonized, so the
 * test holds its handle; killed with SIGKILL when the test process exits, whatever happens.
 * Start is bounded: PING must answer within `startTimeoutMs`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { REDIS_SERVER_BIN, respCommand, type RespReply } from './redis-server.js';

export interface RedisProcess {
  readonly port: number;
  readonly running: boolean;
  /** SIGKILL, and wait for the exit. */
  kill(): Promise<void>;
  /** Everything the process printed, for error messages. */
  output(): string;
}

const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

/** Spawns `redis-server ...args` (args must set the port) and waits until PING answers. */
export async function spawnRedisProcess(port: number, args: string[], startTimeoutMs = 10_000): Promise<RedisProcess> {
  if (!existsSync(REDIS_SERVER_BIN)) {
    throw new Error(`redis-server not found at ${REDIS_SERVER_BIN}: install it (apt-get install redis-server; scripts/test.sh does) or set REDIS_SERVER`);
  }
  const proc = spawn(REDIS_SERVER_BIN, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(proc);
  let out = '';
  let running = true;
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<void>((resolve) =>
    proc.once('exit', () => {
      running = false;
      live.delete(proc);
      resolve();
    }),
  );
  const handle: RedisProcess = {
    port,
    get running() {
      return running;
    },
    async kill() {
      if (!running) return;
      proc.kill('SIGKILL');
      await exited;
    },
    output: () => out,
  };
  const deadline = Date.now() + startTimeoutMs;
  for (;;) {
    if (!running) throw new Error(`redis-server ${args.join(' ')} exited during start:\n${out}`);
    if ((await respCommand(port, ['PING'], 500).catch(() => undefined)) === 'PONG') return handle;
    if (Date.now() > deadline) {
      await handle.kill();
      throw new Error(`redis-server on port ${port} did not answer PING within ${startTimeoutMs} ms:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Polls `probe` every 50 ms until it returns true, or throws after `timeoutMs` naming `what`. */
export async function waitUntil(probe: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await probe().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A RESP reply as text (bulk strings are Buffers). */
export function replyText(reply: RespReply): string {
  if (Buffer.isBuffer(reply)) return reply.toString();
  if (reply instanceof Error) return `ERR ${reply.message}`;
  return String(reply);
}
