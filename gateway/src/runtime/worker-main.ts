/**
 * The entry of a function's worker thread (isolation 'thread': trusted code only, it shares
 * the gateway's process). The host logic is in function-host.ts, shared with sandbox-main.ts.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { runFunctionHost } from './function-host.js';
import type { ToWorker, WorkerBoot } from './worker-protocol.js';

// Stack traces in the gateway's logs point at the author's source lines, not the bundle's.
process.setSourceMapsEnabled(true);
const port = parentPort!;
await runFunctionHost(workerData as WorkerBoot, {
  post: (msg, transfer) => port.postMessage(msg, transfer),
  onMessage: (handler) => port.on('message', (msg: ToWorker) => handler(msg)),
});
