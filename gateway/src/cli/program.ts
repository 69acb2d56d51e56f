/**
 * The `tftpfn` program: every verb, each in its own module, loaded when the command line asks
 * for it. `tftpfn serve` builds the program with serve alone, so a running gateway never loads
 * deploy, dev, bench and the function runtime they use (issue 13, idle RSS: docs/PERFORMANCE.md
 * "Idle memory without zod"). Help, an unknown verb and the tests get the whole tree.
 */
import { Command } from 'commander';

/** Each verb's command, in the order help lists them. */
const VERBS: Record<string, () => Promise<Command>> = {
  serve: async () => (await import('./serve.js')).serveCommand(),
  init: async () => (await import('./init.js')).initCommand(),
  dev: async () => (await import('./dev.js')).devCommand(),
  get: async () => (await import('./get.js')).getCommand(),
  bench: async () => (await import('./bench.js')).benchCommand(),
  build: async () => (await import('./build.js')).buildCommand(),
  invoke: async () => (await import('./invoke.js')).invokeCommand(),
  deploy: async () => (await import('./deploy.js')).deployCommand(),
  versions: async () => (await import('./versions.js')).versionsCommand(),
  rollback: async () => (await import('./rollback.js')).rollbackCommand(),
  rollout: async () => (await import('./rollout.js')).rolloutCommand(),
  secret: async () => (await import('./secret.js')).secretCommand(),
  kv: async () => (await import('./kv.js')).kvCommand(),
  object: async () => (await import('./object.js')).objectCommand(),
  stats: async () => (await import('./stats.js')).statsCommand(),
  tail: async () => (await import('./tail.js')).tailCommand(),
};

function rootCommand(): Command {
  return new Command('tftpfn').description('tftpfn: a dynamic TFTP platform').version('0.1.0').showHelpAfterError();
}

/** The root command with every verb added, built fresh (tests walk its command tree without running it). */
export async function tftpfnProgram(): Promise<Command> {
  const program = rootCommand();
  for (const verb of await Promise.all(Object.values(VERBS).map((load) => load()))) program.addCommand(verb);
  return program;
}

/**
 * The program for one command line (`process.argv`): the root with only the verb argv names,
 * or every verb when it names none (help, `--version`, a typo that help then answers).
 */
export async function programFor(argv: readonly string[]): Promise<Command> {
  const verb = argv[2];
  const load = verb !== undefined && Object.hasOwn(VERBS, verb) ? VERBS[verb] : undefined;
  return load ? rootCommand().addCommand(await load()) : tftpfnProgram();
}
