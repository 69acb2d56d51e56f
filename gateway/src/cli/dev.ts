/**
 * `tftpfn dev <file>`: serves one function on a local port, and rebuilds and hot-reloads it
 * whenever a file in its folder changes. A build error is printed and the last good version
 * keeps serving, so a typo never takes the dev server down.
 */
import { watch } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { Command } from 'commander';
import { pino } from 'pino';
import { ConfigError } from '../config/load.js';
import { startGateway } from '../index.js';
import { integer } from './arg-parsers.js';
import { prettyDestination } from './pretty-log.js';

interface DevFlags {
  port: number;
  host: string;
  root?: string;
  name?: string;
  var?: string[];
  secret?: string[];
  json?: boolean;
  logLevel: string;
}

const pairs = (v: string, prev: string[] | undefined) => [...(prev ?? []), v];

function toMap(items: string[] | undefined, flag: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of items ?? []) {
    const eq = item.indexOf('=');
    if (eq <= 0) throw new ConfigError(`${flag} ${item}: use NAME=VALUE`);
    out[item.slice(0, eq)] = item.slice(eq + 1);
  }
  return out;
}

/** functions/grub/index.ts → grub; hello.ts → hello. */
export function functionNameFor(file: string): string {
  const base = basename(file).replace(/\.[cm]?[jt]sx?$/, '');
  const name = base === 'index' ? basename(dirname(resolve(file))) : base;
  return name.replace(/[^a-z0-9_-]/gi, '-').replace(/^[-_]+/, '').slice(0, 63) || 'fn';
}

export function devCommand(): Command {
  return new Command('dev')
    .description('serve one function locally, rebuilding and reloading it on every save')
    .argument('<file>', 'the function module (.ts or .js) exporting handle')
    .option('-p, --port <n>', 'UDP port', integer(0, 65535), 6969)
    .option('--host <addr>', 'address to listen on', '127.0.0.1')
    .option('-r, --root <dir>', 'folder for file() responses (default: the function\'s folder)')
    .option('--name <name>', 'function name in logs and stats (default: from the file name)')
    .option('--var <NAME=VALUE>', 'a variable for env.vars, repeatable', pairs)
    .option('--secret <NAME=VALUE>', 'a secret for env.secrets, repeatable (never logged)', pairs)
    .option('--log-level <level>', 'debug shows every function log line', 'info')
    .option('--json', 'JSON log lines instead of readable ones')
    .addHelpText('after', '\nExample:\n  tftpfn dev functions/hello/index.ts --port 6969\n  curl tftp://127.0.0.1:6969/hello.txt')
    .action(async (file: string, flags: DevFlags) => {
      const entry = resolve(file);
      const name = flags.name ?? functionNameFor(entry);
      const logger = flags.json ? pino({ level: flags.logLevel }) : pino({ level: flags.logLevel, timestamp: pino.stdTimeFunctions.isoTime }, prettyDestination());
      let running;
      try {
        running = await startGateway({
          config: {
            hosts: [flags.host],
            port: flags.port,
            root: flags.root ?? dirname(entry),
            logLevel: flags.logLevel as never,
            functions: { [name]: { entry, poolSize: 1, vars: toMap(flags.var, '--var'), secrets: toMap(flags.secret, '--secret') } },
            defaultRoute: { function: name },
          },
          logger,
        });
      } catch (e) {
        console.error(`tftpfn dev: ${(e as Error).message}`);
        process.exit(e instanceof ConfigError ? 2 : 1);
      }
      const rt = running.functions!;
      const where = `${flags.host.includes(':') ? `[${flags.host}]` : flags.host}:${running.port}`;
      console.log(`tftpfn dev: ${name} (${rt.status()[0].version}) on ${where}; try: curl -o - tftp://${where}/hello.txt`);
      console.log(`tftpfn dev: watching ${dirname(entry)} for changes (Ctrl-C stops)`);

      let timer: NodeJS.Timeout | undefined;
      let building = Promise.resolve();
      const rebuild = () => {
        building = building.then(async () => {
          const before = rt.status()[0].version;
          const started = Date.now();
          await rt.rebuild(name);
          const after = rt.status()[0].version;
          if (after !== before) console.log(`tftpfn dev: reloaded ${name} ${after} in ${Date.now() - started} ms`);
          const problem = rt.lastError(name);
          if (problem) console.error(`tftpfn dev: ${problem}\ntftpfn dev: still serving ${after}; fix the file and save again`);
        });
      };
      // Editors save in bursts (write, rename, chmod): one rebuild per burst.
      const watcher = watch(dirname(entry), { recursive: true }, (_event, changed) => {
        if (changed && /(^|\/)(node_modules|\.git)(\/|$)/.test(String(changed))) return;
        clearTimeout(timer);
        timer = setTimeout(rebuild, 100);
      });
      const stop = async () => {
        watcher.close();
        clearTimeout(timer);
        await running.close(1000);
        process.exit(0);
      };
      process.on('SIGINT', () => void stop());
      process.on('SIGTERM', () => void stop());
    });
}
