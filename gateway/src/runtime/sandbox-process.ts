/**
 * A worker hosted in a sandboxed child process (sandbox-spawn.ts, sandbox-main.ts).
 *
 * The pipe on fd 3 carries frames (frame-codec.ts) of messages (message-codec.ts). Reading is
 * bounded twice over, because the other end runs user code that may write raw frames: a frame
 * longer than MESSAGE_LIMITS.frameBytes kills the process before it is buffered, and at most
 * FRAMES_PER_TURN frames are handled per event-loop turn, after which reading pauses until the
 * next turn, so a flood of messages costs the child its time, not the gateway's other
 * transfers.
 */
import { spawn } from 'node:child_process';
import type { Socket } from 'node:net';
import { FrameDecoder } from './frame-codec.js';
import { decodeMessage, encodeMessageFrame } from './message-codec.js';
import { MESSAGE_LIMITS } from './message-check.js';
import type { SandboxCommand } from './sandbox-spawn.js';
import type { WorkerEvents, WorkerHandle } from './worker-handle.js';
import type { SandboxBoot, ToWorker, WorkerBoot } from './worker-protocol.js';

const FRAMES_PER_TURN = 256;
/** The last stderr bytes kept to tell why a process died (V8 prints its OOM reason there). */
const STDERR_TAIL_CHARS = 4096;

export interface ProcessOptions {
  readonly command: SandboxCommand;
  /** Sent first; absent for a warm spare (warm-spare.ts), which is sent its boot when adopted. */
  readonly boot?: WorkerBoot;
  readonly env: Record<string, string>;
  /** Its working folder: the sandbox folder, the only one it may read. */
  readonly cwd: string;
}

/** A sandboxed process as its starter sees it: a worker, plus what a spare needs (its boot, whether it is gone). */
export interface ProcessWorker extends WorkerHandle {
  readonly pid: number | undefined;
  /** Sends the boot message (a spare's, at adoption). */
  boot(boot: WorkerBoot): void;
  /** It has exited (or could not be started). */
  readonly exited: boolean;
}

export function startProcessWorker(opts: ProcessOptions, events: WorkerEvents): ProcessWorker {
  const child = spawn(opts.command.file, [...opts.command.args], {
    stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
    cwd: opts.cwd,
    env: opts.env,
    ...(opts.command.uid !== undefined ? { uid: opts.command.uid, gid: opts.command.gid } : {}),
    // Its own process group: a signal to the gateway's group (Ctrl-C) does not reach it first.
    detached: true,
  });
  const pipe = child.stdio[3] as Socket;
  let exited = false;
  let violation: string | undefined;
  let tail = '';
  child.stderr!.on('data', (b: Buffer) => {
    tail = (tail + b.toString('latin1')).slice(-STDERR_TAIL_CHARS);
  });

  const kill = (why?: string) => {
    if (why) violation ??= why;
    if (exited) return;
    try {
      child.kill('SIGKILL');
    } catch {
      /* already gone */
    }
  };

  const decoder = new FrameDecoder(MESSAGE_LIMITS.frameBytes);
  let scheduled = false;
  const drain = () => {
    scheduled = false;
    let handled = 0;
    try {
      for (let frame = decoder.next(); frame; frame = decoder.next()) {
        events.message(decodeMessage(frame));
        if (exited || violation) return;
        if (++handled >= FRAMES_PER_TURN) {
          // Let other I/O run; carry on next turn.
          pipe.pause();
          scheduled = true;
          setImmediate(() => {
            pipe.resume();
            drain();
          });
          return;
        }
      }
    } catch (e) {
      return kill((e as Error).message);
    }
  };
  pipe.on('data', (chunk: Buffer) => {
    decoder.push(chunk);
    if (!scheduled) drain();
  });
  pipe.on('error', () => kill());

  let corked = false;
  const write = (msg: ToWorker | SandboxBoot) => {
    if (exited) return;
    if (!corked) {
      // Messages of one tick go out in one write (writev): fewer syscalls under load. (Waiting
      // for the end of the event-loop turn batched more but cost more in latency: measured
      // slower on the 1 KiB bench.)
      corked = true;
      pipe.cork();
      process.nextTick(() => {
        corked = false;
        pipe.uncork();
      });
    }
    pipe.write(encodeMessageFrame(msg));
  };

  child.on('error', (e) => {
    // Could not be spawned at all (no /bin/sh, no unshare, bad uid).
    if (exited) return;
    exited = true;
    events.exit({ code: null, signal: null, heapExhausted: false, memoryExhausted: false, error: e });
  });
  child.on('exit', (code, signal) => {
    if (exited) return;
    exited = true;
    pipe.destroy();
    const heapExhausted = /heap out of memory|Reached heap limit/i.test(tail);
    const memoryExhausted = !heapExhausted && /Array buffer allocation failed|bad_alloc|out of memory|Cannot allocate memory/i.test(tail);
    // Node prints an uncaught exception to stderr before exiting with code 1: keep its first line.
    const uncaught = code === 1 ? /^(?:Uncaught )?([A-Za-z]*Error(?: \[[A-Z_]+\])?: .*)$/m.exec(tail)?.[1] : undefined;
    const error = violation ? new Error(`was killed for a protocol violation: ${violation}`) : uncaught ? new Error(uncaught.slice(0, 1024)) : undefined;
    events.exit({ code, signal, heapExhausted, memoryExhausted, ...(error ? { error } : {}) });
  });

  if (opts.boot) write({ t: 'boot', boot: opts.boot });
  return {
    pid: child.pid,
    stdout: child.stdout!,
    stderr: child.stderr!,
    send: write,
    boot: (boot) => write({ t: 'boot', boot }),
    get exited() {
      return exited;
    },
    terminate: () => kill(),
  };
}
