/**
 * The entry of `tftpfn invoke --isolation thread`: the run of invoke-once.ts in a worker thread
 * (no sandbox, as the gateway's isolation "thread"), so a stuck handler can be terminated. One
 * boot in workerData, one reply message out.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { invokeOnce, type InvokeBoot } from './invoke-once.js';

// Stack traces name the author's source lines, not the bundle's.
process.setSourceMapsEnabled(true);
const reply = await invokeOnce(workerData as InvokeBoot);
parentPort!.postMessage(reply);
