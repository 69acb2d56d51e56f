/**
 * The `tftpfn` program: every verb, built fresh (tests walk its command tree without running it).
 */
import { Command } from 'commander';
import { serveCommand } from './serve.js';
import { benchCommand } from './bench.js';
import { getCommand } from './get.js';
import { buildCommand } from './build.js';
import { deployCommand } from './deploy.js';
import { versionsCommand } from './versions.js';
import { rollbackCommand } from './rollback.js';
import { rolloutCommand } from './rollout.js';
import { secretCommand } from './secret.js';
import { invokeCommand } from './invoke.js';
import { devCommand } from './dev.js';
import { kvCommand } from './kv.js';
import { statsCommand } from './stats.js';
import { tailCommand } from './tail.js';
import { objectCommand } from './object.js';
import { initCommand } from './init.js';

/** The root command with every verb added; main.ts parses process.argv with it. */
export function tftpfnProgram(): Command {
  return new Command('tftpfn')
  .description('tftpfn: a dynamic TFTP platform')
  .version('0.1.0')
  .showHelpAfterError()
  .addCommand(serveCommand())
  .addCommand(initCommand())
  .addCommand(devCommand())
  .addCommand(getCommand())
  .addCommand(benchCommand())
  .addCommand(buildCommand())
  .addCommand(invokeCommand())
  .addCommand(deployCommand())
  .addCommand(versionsCommand())
  .addCommand(rollbackCommand())
  .addCommand(rolloutCommand())
  .addCommand(secretCommand())
  .addCommand(kvCommand())
  .addCommand(objectCommand())
  .addCommand(statsCommand())
  .addCommand(tailCommand());
}
