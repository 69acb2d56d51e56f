/**
 * The thin dgram driver around a TransferMachine: decode nothing, just move datagrams between a
 * socket and the machine, and keep one timer.
 *
 * The timer is re-armed lazily: a machine moves its deadline on almost every packet, and
 * clearTimeout/setTimeout per packet would cost more than the protocol work. The timer stays at
 * the earliest deadline it was armed for; when it fires early the machine ignores it and the
 * driver re-arms for the deadline now in force.
 */
import dgram from 'node:dgram';
import { isIPv6 } from 'node:net';
import { performance } from 'node:perf_hooks';
import { TransferAbortedError } from './errors.js';
import type { TransferMachine } from './types.js';

export interface DriverOptions {
  /** Server address as given by the caller: an IPv4 or IPv6 literal, or a name. */
  host: string;
  localAddress?: string;
  signal?: AbortSignal;
  /** SO_RCVBUF to ask for, so a window of large blocks is not dropped by the kernel. */
  recvBufferBytes?: number;
  /** Called once per event of type 'holding'. */
  onHolding?: () => void;
}

/** Runs `machine` to completion. Resolves on 'done', rejects with the machine's error. */
export function runTransfer(machine: TransferMachine, opts: DriverOptions): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const socket = dgram.createSocket({ type: isIPv6(opts.host) ? 'udp6' : 'udp4' });
    let timer: NodeJS.Timeout | undefined;
    let timerAtMs = Infinity;
    let settled = false;

    const finish = (error?: Error): void => {
      if (settled) return;
      settled = true;
      if (timer !== undefined) clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      // dgram resolves even a literal address on the next tick before it sends: close after
      // that, or the final ACK (or ERROR) queued just now would never leave.
      setImmediate(() => socket.close());
      if (error) reject(error);
      else resolve();
    };

    const onTimer = (): void => {
      timer = undefined;
      timerAtMs = Infinity;
      machine.handleTimeout(performance.now());
      pump();
    };

    const pump = (): void => {
      if (settled) return;
      for (let t = machine.pollTransmit(); t !== undefined; t = machine.pollTransmit()) {
        socket.send(t.bytes, t.port, t.address);
      }
      for (let e = machine.pollEvent(); e !== undefined; e = machine.pollEvent()) {
        if (e.type === 'done') return finish();
        if (e.type === 'failed') return finish(e.error);
        opts.onHolding?.();
      }
      const deadline = machine.pollTimeout();
      if (deadline !== undefined && deadline < timerAtMs) {
        if (timer !== undefined) clearTimeout(timer);
        timerAtMs = deadline;
        timer = setTimeout(onTimer, Math.max(0, deadline - performance.now()));
      }
    };

    const onAbort = (): void => {
      machine.handleAbort(new TransferAbortedError(opts.signal?.reason));
      pump();
    };

    socket.on('message', (msg, rinfo) => {
      machine.handleDatagram(msg, rinfo.address, rinfo.port, performance.now());
      pump();
    });
    socket.on('error', (err) => finish(err));

    if (opts.signal?.aborted) {
      finish(new TransferAbortedError(opts.signal.reason));
      return;
    }
    opts.signal?.addEventListener('abort', onAbort, { once: true });

    socket.bind({ port: 0, address: opts.localAddress }, () => {
      if (opts.recvBufferBytes !== undefined) {
        try {
          socket.setRecvBufferSize(opts.recvBufferBytes);
        } catch {
          // The kernel caps SO_RCVBUF at net.core.rmem_max; a smaller buffer only costs retries.
        }
      }
      machine.start(performance.now());
      pump();
    });
  });
}
