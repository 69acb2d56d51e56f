/**
 * Issue 9 §3: crashed processes leave no `tftpfn-functions-*` temp folders behind. A real
 * `tftpfn serve` with a function is SIGKILLed (no handler can run): its sandbox processes exit
 * on their own (their pipe closes) and the next gateway to start sweeps the dead one's folders.
 * A SIGTERMed one removes its folders itself.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { FunctionRuntime } from '../../gateway/src/runtime/function-runtime.js';
import { parseConfig } from '../../gateway/src/config/load.js';
import { spawnCli } from '../helpers/cli.js';
import { captureLog, FIXTURES } from '../helpers/functions.js';

const foldersOf = (pid: number) => readdirSync(tmpdir()).filter((n) => n.startsWith(`tftpfn-functions-${pid}-`));

/** PIDs of processes whose command line mentions `text` (the sandbox processes of one gateway). */
function processesMentioning(text: string): number[] {
  const pids: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      if (readFileSync(`/proc/${name}/cmdline`, 'utf8').includes(text)) pids.push(Number(name));
    } catch {
      /* gone */
    }
  }
  return pids;
}

async function until(what: string, check: () => boolean, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function startServe(): ReturnType<typeof spawnCli> {
  const dir = mkdtempSync(join(tmpdir(), 'tftpfn-serve-'));
  const config = join(dir, 'gateway.json');
  writeFileSync(config, JSON.stringify({ hosts: ['127.0.0.1'], port: 0, root: dir, functions: { hostile: { entry: join(FIXTURES, 'hostile.ts'), poolSize: 2 } }, defaultRoute: { function: 'hostile' } }));
  return spawnCli(['serve', '-c', config], { timeoutMs: 60_000 });
}

describe('temp folders of crashed gateways', () => {
  test('SIGKILL: the sandboxes exit by themselves, and the next gateway sweeps the folders', async () => {
    const run = startServe();
    const pid = run.child.pid!;
    let sandboxes: number[] = [];
    await until('the sandbox processes', () => {
      sandboxes = processesMentioning(`--allow-fs-read=${join(tmpdir(), `tftpfn-functions-${pid}-`)}`);
      return sandboxes.length >= 2;
    });
    const left = foldersOf(pid);
    run.child.kill('SIGKILL');
    await run.done;
    expect(foldersOf(pid)).toEqual(left);
    const alive = () => sandboxes.filter((p) => existsSync(`/proc/${p}`) && !readFileSync(`/proc/${p}/stat`, 'utf8').includes(') Z'));
    await until(`the orphaned sandboxes to exit (${sandboxes.join(', ')}; alive: ${alive().map((p) => readFileSync(`/proc/${p}/cmdline`, 'utf8').slice(0, 80)).join(' | ')})`, () => alive().length === 0);

    const log = captureLog('info');
    const rt = await FunctionRuntime.start({ config: parseConfig({ hosts: ['127.0.0.1'], port: 0 }), log: log.logger });
    await rt.close();
    expect(foldersOf(pid)).toEqual([]);
    expect(log.text()).toMatch(/temp folders left by dead gateways/);
  });

  test('SIGTERM: the gateway removes its own folders on the way out', async () => {
    const run = startServe();
    const pid = run.child.pid!;
    let out = '';
    run.child.stdout!.on('data', (c: string) => (out += c));
    await until('listening', () => /listening/i.test(out));
    expect(foldersOf(pid).length).toBeGreaterThanOrEqual(2);
    run.child.kill('SIGTERM');
    await run.done;
    expect(foldersOf(pid)).toEqual([]);
  });
});
