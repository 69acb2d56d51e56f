/**
 * The `tftpfn` command line: one commander program, one file per verb.
 */
import { Command } from 'commander';
import { serveCommand } from './serve.js';
import { benchCommand } from './bench.js';
import { getCommand } from './get.js';

const program = new Command('tftpfn')
  .description('tftpfn: a dynamic TFTP platform')
  .version('0.1.0')
  .showHelpAfterError()
  .addCommand(serveCommand())
  .addCommand(getCommand())
  .addCommand(benchCommand());

await program.parseAsync(process.argv);
