/**
 * What the install tests share: the checkout packed as a user would get it (`git clone`, then
 * `npm pack`: no dist/, no tests), commands run without the npm_* variables an enclosing
 * `npm test` sets, and `npx tftpfn ...` started in its own process group (npx does not pass
 * SIGTERM on: the group is signalled, as a terminal's Ctrl-C or a service manager does).
 */
import { spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { cpSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { REPO } from './cli.js';

/** The environment without the npm_* variables an enclosing `npm test` sets (its prefix, its lifecycle). */
export function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^npm_/i.test(k)) env[k] = v;
  return env;
}

export function runClean(cmd: string, args: string[], cwd: string, timeoutMs: number): SpawnSyncReturns<string> {
  return spawnSync(cmd, args, { cwd, env: cleanEnv(), encoding: 'utf8', timeout: timeoutMs });
}

export interface PackedCheckout {
  readonly tarball: string;
  /** Paths in the tarball, as npm pack lists them. */
  readonly files: readonly string[];
  readonly packRun: SpawnSyncReturns<string>;
}

/** Copies the checkout into `work` without dist/, tests or node_modules (linked instead) and packs it there. */
export function packCheckout(work: string): PackedCheckout {
  const src = join(work, 'checkout');
  const skip = new Set(['node_modules', '.git', 'dist', '.tmp', 'test', 'dist-functions', 'deploy']);
  cpSync(REPO, src, { recursive: true, filter: (p) => !skip.has(p.slice(REPO.length + 1)) });
  symlinkSync(join(REPO, 'node_modules'), join(src, 'node_modules'), 'dir');
  const packRun = runClean('npm', ['pack', '--json', '--pack-destination', work], src, 120_000);
  if (packRun.status !== 0) throw new Error(`npm pack failed (${packRun.status}): ${packRun.stderr}`);
  const [info] = JSON.parse(packRun.stdout) as { filename: string; files: { path: string }[] }[];
  return { tarball: join(work, info.filename), files: info.files.map((f) => f.path), packRun };
}

export interface NpxRun {
  /** Everything it printed so far, stdout and stderr. */
  output(): string;
  /** SIGTERM to its process group, then waits for it (SIGKILL after 15 s). */
  stop(): Promise<void>;
}

/** `npx --no ARGS` in `cwd`, its own process group; resolves once `ready` is printed (or 30 s pass, or it exits). */
export async function startNpx(args: string[], cwd: string, ready: string): Promise<NpxRun> {
  const child = spawn('npx', ['--no', ...args], { cwd, env: cleanEnv(), detached: true });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
  child.stderr.setEncoding('utf8').on('data', (c: string) => (out += c));
  // 'close': the command holds the same stdout and stderr, so they close when it has exited too.
  const exited = new Promise<void>((resolve) => child.on('close', () => resolve()));
  const deadline = Date.now() + 30_000;
  while (!out.includes(ready) && Date.now() < deadline && child.exitCode === null) await new Promise((r) => setTimeout(r, 50));
  return {
    output: () => out,
    async stop() {
      const signal = (s: NodeJS.Signals) => {
        try {
          process.kill(-child.pid!, s);
        } catch {
          // The group is gone already.
        }
      };
      signal('SIGTERM');
      // Bounded: a command still running 15 s later is killed (and the caller's checks fail).
      const bound = setTimeout(() => signal('SIGKILL'), 15_000);
      await exited;
      clearTimeout(bound);
    },
  };
}
