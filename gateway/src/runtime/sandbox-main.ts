/**
 * The entry of a sandboxed function process (isolation 'process', the default).
 *
 * Started by sandbox-process.ts under Node's permission model (reads only of its sandbox
 * folder; no writes, child processes, workers or addons), with an empty environment, a data
 * size limit, as an unprivileged user and, where the system allows, in an empty network
 * namespace. Its only channel to the gateway is the pipe on fd 3, carrying length-prefixed
 * messages (frame-codec.ts, message-codec.ts); the first one is the boot message with the
 * function's vars and secrets. The gateway checks everything that comes back.
 *
 * This file is bundled into one module (with function-host.ts, lockdown.ts and the SDK) and
 * copied into each sandbox folder, so the process needs no read access to the gateway's files.
 */
import { Socket } from 'node:net';
import { FrameDecoder } from './frame-codec.js';
import { decodeMessage, encodeMessageFrame } from './message-codec.js';
import { runFunctionHost } from './function-host.js';
import { lockdown } from './lockdown.js';
import { MESSAGE_LIMITS } from './message-check.js';
import type { FromWorker, SandboxBoot, ToWorker } from './worker-protocol.js';

const channel = new Socket({ fd: 3, readable: true, writable: true });
// Created now, before lockdown disarms the classes behind them.
const outputs = [process.stdout, process.stderr];
// The gateway is gone (or closed our pipe): nothing left to serve.
channel.on('close', () => process.exit(0));
channel.on('error', () => process.exit(0));
// Before the boot message, not on it: nothing here depends on the function, and a warm spare
// (warm-spare.ts) then has it done while idle (it costs 10-35 ms) instead of during a reload.
lockdown([channel, ...outputs]);

let corked = false;
function post(msg: FromWorker): void {
  if (!corked) {
    // Messages of one tick go out in one write (writev): fewer syscalls under load.
    corked = true;
    channel.cork();
    process.nextTick(() => {
      corked = false;
      channel.uncork();
    });
  }
  channel.write(encodeMessageFrame(msg));
}

const decoder = new FrameDecoder(MESSAGE_LIMITS.frameBytes);
let handler: ((msg: ToWorker) => void) | undefined;
const early: ToWorker[] = [];
let booted = false;

channel.on('data', (chunk: Buffer) => {
  decoder.push(chunk);
  for (let frame = decoder.next(); frame; frame = decoder.next()) {
    const msg = decodeMessage(frame) as SandboxBoot | ToWorker;
    if (!booted) {
      if (msg.t !== 'boot') process.exit(70);
      booted = true;
      start(msg);
    } else if (handler) handler(msg as ToWorker);
    else early.push(msg as ToWorker);
  }
});

function start(msg: SandboxBoot): void {
  // Stack traces in the gateway's logs point at the author's source lines, not the bundle's.
  process.setSourceMapsEnabled(true);
  void runFunctionHost(msg.boot, {
    post,
    copiesOnPost: true,
    onMessage: (h) => {
      handler = h;
      for (const m of early.splice(0)) h(m);
    },
  });
}
