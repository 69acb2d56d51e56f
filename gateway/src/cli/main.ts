/**
 * The `tftpfn` command line: one commander program (program.ts), one file per verb, loaded when
 * the command line names it.
 */
import { programFor } from './program.js';

await (await programFor(process.argv)).parseAsync(process.argv);
