/**
 * The `tftpfn` command line: one commander program (program.ts), one file per verb.
 */
import { tftpfnProgram } from './program.js';

await tftpfnProgram().parseAsync(process.argv);
