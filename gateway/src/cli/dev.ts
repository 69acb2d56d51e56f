/**
 * `tftpfn dev <file>`: serves one function on a local port, and rebuilds and hot-reloads it
 * whenever a file in its folder changes. A build error is printed and the last good version
 * keeps serving, so a typo never takes the dev server down.
 *
 * The watching, debouncing and stale-build aborting are the runtime's (runtime/source-watch.ts,
 * runtime/reload.ts); this command names the files to watch (the bundle's input graph, so a
 * log file written beside the source changes nothing), subscribes to the reload notices and
 * prints every rebuild's outcome once.
 */
import { performance } from 'node:perf_hooks';
import { basename, dirname, resolve } from 'node:path';
import { Command } from 'commander';
import { pino } from 'pino';
import { ConfigError } from '../config/load.js';
import { bundleInputs } from '../runtime/bundle.js';
import { startGateway } from '../index.js';
import type { ReloadNotice } from '../runtime/reload.js';
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

/**
 * What `tftpfn dev` prints for one function's reload notices: the time from the start of a build
 * to its swap, and a failed build or load with the version that goes on serving.
 */
export function devPrinter(name: string, initialVersion: string | undefined): (n: ReloadNotice) => void {
  let serving = initialVersion;
  let buildStartedMs: number | undefined;
  const failed = (problem: string) => console.error(`tftpfn dev: ${problem}\ntftpfn dev: still serving ${serving}; fix the file and save again`);
  return (n) => {
    if (n.function !== name) return;
    switch (n.type) {
      case 'buildStarted':
        buildStartedMs = performance.now();
        return;
      case 'reloadComplete': {
        serving = n.version;
        const ms = buildStartedMs === undefined ? n.loadMs : performance.now() - buildStartedMs;
        console.log(`tftpfn dev: reloaded ${name} ${n.version} in ${Math.round(ms)} ms`);
        return;
      }
      case 'sourceFailed':
        return failed(n.err instanceof Error ? n.err.message : String(n.err));
      case 'reloadFailed':
        return failed(n.error);
      case 'reloadUnchanged':
        // A failed version is not loaded again: say so, or the author sees nothing after the save.
        if (n.error !== undefined) return failed(`${n.version} failed to load before: ${n.error}`);
        console.log(`tftpfn dev: rebuilt ${name}: unchanged, still serving ${n.version}`);
        return;
      case 'reloadAbandoned':
      case 'versionRetired':
        return;
    }
  };
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
      // Before the first build reads the source: a save after this and before the watch is in
      // place is caught up by the watch (SourceWatch builtAtMs).
      const builtAtMs = Date.now();
      try {
        running = await startGateway({
          config: {
            hosts: [flags.host],
            port: flags.port,
            root: flags.root ?? dirname(entry),
            logLevel: flags.logLevel as never,
            functions: { [name]: { entry, poolSize: 1, warmSpare: true, vars: toMap(flags.var, '--var'), secrets: toMap(flags.secret, '--secret') } },
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
      const unsubscribe = rt.subscribe(devPrinter(name, rt.status()[0].version));
      const watch = rt.watch(name, dirname(entry), {
        inputs: () => bundleInputs(entry),
        builtAtMs,
        onError: (err) => console.error(`tftpfn dev: stopped watching ${dirname(entry)}: ${err.message}\ntftpfn dev: restart tftpfn dev to pick up changes again`),
      });
      await watch.ready;
      const files = watch.watched();
      console.log(`tftpfn dev: watching ${files.length} source file${files.length === 1 ? '' : 's'} of ${basename(entry)}'s bundle for changes (Ctrl-C stops)`);
      const stop = async () => {
        unsubscribe();
        await running.close(1000);
        process.exit(0);
      };
      process.on('SIGINT', () => void stop());
      process.on('SIGTERM', () => void stop());
    });
}
