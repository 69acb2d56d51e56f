/**
 * A real redis-server on a free loopback port, for integration tests.
 *
 * Run as a child process (not daemonized) so the test holds its handle: `kill()` is a SIGKILL
 * for an abrupt outage, `stop()` a SIGTERM, and `start()` brings it back on the SAME port, which
 * is what a client reconnecting after an outage sees. No persistence (`--save ''`), data in a
 * temp folder. `cli()` speaks RESP over a plain socket, so tests can check what is really in
 * Redis independently of the client under test, and no redis-tools package is needed.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './free-port.js';

export const REDIS_SERVER_BIN = process.env.REDIS_SERVER ?? '/usr/bin/redis-server';

export type RespReply = string | number | Buffer | null | RespReply[] | Error;

export interface TestRedis {
  readonly url: string;
  readonly port: number;
  readonly running: boolean;
  start(): Promise<void>;
  /** SIGTERM, and wait for the exit. */
  stop(): Promise<void>;
  /** SIGKILL, and wait for the exit: an abrupt outage. */
  kill(): Promise<void>;
  restart(): Promise<void>;
  /** SIGSTOP / SIGCONT: the server keeps its sockets but stops answering (a hung Redis). */
  pause(): void;
  resume(): void;
  /** One command over a fresh RESP connection; bulk replies come back as Buffers. */
  cli(...args: (string | Buffer | number)[]): Promise<RespReply>;
  /** Stops the server and removes its folder. */
  cleanup(): Promise<void>;
}

const live = new Set<ChildProcess>();
// A crashed or interrupted test run must not leave servers behind.
process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

export async function startRedis(opts: { port?: number; startTimeoutMs?: number } = {}): Promise<TestRedis> {
  if (!existsSync(REDIS_SERVER_BIN)) {
    throw new Error(
      `redis-server not found at ${REDIS_SERVER_BIN}: the Redis tests run against a real server. ` +
        'Install it (apt-get install redis-server; scripts/test.sh does) or set REDIS_SERVER to its path.',
    );
  }
  const port = opts.port ?? (await freePort());
  const startTimeoutMs = opts.startTimeoutMs ?? 10_000;
  const dir = mkdtempSync(join(tmpdir(), 'tftpfn-redis-'));
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  let output = '';

  const start = async (): Promise<void> => {
    if (child) return;
    output = '';
    const proc = spawn(
      REDIS_SERVER_BIN,
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'no', '--dir', dir, '--loglevel', 'warning'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    child = proc;
    live.add(proc);
    proc.stdout!.on('data', (d: Buffer) => (output += d.toString()));
    proc.stderr!.on('data', (d: Buffer) => (output += d.toString()));
    exited = new Promise((resolve) =>
      proc.once('exit', () => {
        live.delete(proc);
        if (child === proc) child = undefined;
        resolve();
      }),
    );
    const deadline = Date.now() + startTimeoutMs;
    for (;;) {
      if (child !== proc) throw new Error(`redis-server on port ${port} exited during start:\n${output}`);
      const reply = await respCommand(port, ['PING'], 500).catch(() => undefined);
      if (reply === 'PONG') return;
      if (Date.now() > deadline) {
        proc.kill('SIGKILL');
        throw new Error(`redis-server on port ${port} did not answer PING within ${startTimeoutMs} ms:\n${output}`);
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  };

  const signal = async (sig: NodeJS.Signals): Promise<void> => {
    const proc = child;
    if (!proc) return;
    proc.kill('SIGCONT'); // a paused server would not act on SIGTERM
    proc.kill(sig);
    await exited;
  };

  await start();
  return {
    url: `redis://127.0.0.1:${port}/0`,
    port,
    get running() {
      return child !== undefined;
    },
    start,
    stop: () => signal('SIGTERM'),
    kill: () => signal('SIGKILL'),
    async restart() {
      await signal('SIGTERM');
      await start();
    },
    pause: () => void child?.kill('SIGSTOP'),
    resume: () => void child?.kill('SIGCONT'),
    cli: (...args) => respCommand(port, args, 2000),
    async cleanup() {
      await signal('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Sends one command as a RESP array of bulk strings and parses one reply. */
export function respCommand(port: number, args: (string | Buffer | number)[], timeoutMs: number): Promise<RespReply> {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const a of args) {
    const b = Buffer.isBuffer(a) ? a : Buffer.from(String(a));
    parts.push(Buffer.from(`$${b.length}\r\n`), b, Buffer.from('\r\n'));
  }
  return new Promise((resolve, reject) => {
    const sock = createConnection({ host: '127.0.0.1', port });
    let buf = Buffer.alloc(0);
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`redis on port ${port}: no reply to ${String(args[0])} within ${timeoutMs} ms`));
    }, timeoutMs);
    sock.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    sock.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      const parsed = parseReply(buf, 0);
      if (!parsed) return;
      clearTimeout(timer);
      sock.destroy();
      resolve(parsed.value);
    });
    sock.write(Buffer.concat(parts));
  });
}

/** RESP2 reply at `pos`, or undefined when more bytes are needed. */
function parseReply(buf: Buffer, pos: number): { value: RespReply; end: number } | undefined {
  const eol = buf.indexOf('\r\n', pos);
  if (eol < 0) return undefined;
  const line = buf.toString('utf8', pos + 1, eol);
  switch (String.fromCharCode(buf[pos])) {
    case '+':
      return { value: line, end: eol + 2 };
    case '-':
      return { value: new Error(line), end: eol + 2 };
    case ':':
      return { value: Number(line), end: eol + 2 };
    case '$': {
      const len = Number(line);
      if (len < 0) return { value: null, end: eol + 2 };
      if (buf.length < eol + 2 + len + 2) return undefined;
      return { value: buf.subarray(eol + 2, eol + 2 + len), end: eol + 2 + len + 2 };
    }
    case '*': {
      const n = Number(line);
      if (n < 0) return { value: null, end: eol + 2 };
      const items: RespReply[] = [];
      let at = eol + 2;
      for (let i = 0; i < n; i++) {
        const item = parseReply(buf, at);
        if (!item) return undefined;
        items.push(item.value);
        at = item.end;
      }
      return { value: items, end: at };
    }
    default:
      throw new Error(`unexpected RESP type byte 0x${buf[pos].toString(16)}`);
  }
}
