/**
 * The entry of `tftpfn invoke`'s sandbox: the same sandbox as the gateway's function processes
 * (sandbox-spawn.ts: permission model, empty environment, network namespace where available,
 * lockdown.ts, the data limit), running the SDK's `invoke` harness once, so a function that
 * reads files, opens sockets or spawns programs fails under `invoke` as it fails behind the
 * gateway. One boot message in, one result message out, on fd 3 (frame-codec.ts,
 * message-codec.ts). Bundled with the harness into the sandbox folder.
 */
import { Socket } from 'node:net';
import { FrameDecoder } from './frame-codec.js';
import { invokeOnce, type InvokeBoot, type InvokeReply } from './invoke-once.js';
import { lockdown } from './lockdown.js';
import { decodeMessage, encodeMessageFrame } from './message-codec.js';
import { MESSAGE_LIMITS } from './message-check.js';

const channel = new Socket({ fd: 3, readable: true, writable: true });
const outputs = [process.stdout, process.stderr];
channel.on('error', () => process.exit(0));
const decoder = new FrameDecoder(MESSAGE_LIMITS.frameBytes);
let started = false;

function reply(msg: InvokeReply): void {
  channel.write(encodeMessageFrame(msg));
}

async function run(boot: InvokeBoot): Promise<void> {
  lockdown([channel, ...outputs]);
  process.setSourceMapsEnabled(true);
  reply(await invokeOnce(boot));
}

channel.on('data', (chunk: Buffer) => {
  decoder.push(chunk);
  const frame = decoder.next();
  if (!frame || started) return;
  started = true;
  void run(decodeMessage(frame) as InvokeBoot);
});
