/**
 * What a pool's workers say, into the gateway's log: env.log lines (`log` messages) and the
 * console output of a sandboxed process (its stdout and stderr, line by line). Everything goes
 * through one per-function LogLimiter (log-limiter.ts), so a flood is dropped and counted instead
 * of logged, and through `redact`, so a secret the function prints is never written out.
 *
 * Lines of an invocation are reported dropped when it ends (`finish`); lines outside any
 * invocation ("stray": console output, module-level logging) at most once a second. While
 * everything a worker prints is being dropped, reading its output pauses for 100 ms, so the
 * flood costs the worker, not the gateway. Used by worker-pool.ts (log messages, finish) and
 * worker-supervisor.ts (pipe).
 */
import { performance } from 'node:perf_hooks';
import type { Readable } from 'node:stream';
import type { Logger } from 'pino';
import { LogLimiter, type LogLimits } from './log-limiter.js';
import type { FromWorker } from './worker-protocol.js';

/** Replaces every secret of at least 4 characters with '[redacted]'. */
export function makeRedactor(secrets: Readonly<Record<string, string>>): (s: string) => string {
  const values = Object.values(secrets).filter((v) => v.length >= 4);
  return values.length === 0 ? (s) => s : (s) => values.reduce((acc, v) => acc.split(v).join('[redacted]'), s);
}

/** The invocation a log line belongs to: the pool's call id and the request's id. */
export interface LogCall {
  readonly id: number;
  readonly requestId: string;
}

export class WorkerLogs {
  private readonly limiter: LogLimiter;
  private strayReport: NodeJS.Timeout | undefined;

  constructor(
    private readonly log: Logger,
    limits: LogLimits,
    readonly redact: (s: string) => string,
  ) {
    this.limiter = new LogLimiter(limits);
  }

  /** An env.log line (or a drop count) from a worker; `call` is undefined for stray lines. */
  onLog(msg: Extract<FromWorker, { t: 'log' }>, call: LogCall | undefined): void {
    const id = call ? call.id : undefined;
    if (msg.dropped !== undefined) {
      this.limiter.droppedByWorker(id, msg.dropped);
      if (!call) this.scheduleStrayReport();
      return;
    }
    let json = '';
    if (msg.obj && typeof msg.obj === 'object') {
      try {
        json = JSON.stringify(msg.obj) ?? '';
      } catch {
        json = '{"unserializable":true}';
      }
    }
    if (!this.limiter.admit(id, json.length + (msg.msg?.length ?? 0), performance.now())) {
      if (!call) this.scheduleStrayReport();
      return;
    }
    const obj = json && json.startsWith('{') ? (JSON.parse(this.redact(json)) as object) : {};
    const fields = { ...obj, event: 'functionLog', ...(call ? { id: call.requestId } : {}) };
    this.log[msg.level](fields, msg.msg === undefined ? undefined : this.redact(msg.msg));
  }

  /** The invocation is over: reports the lines it had dropped, if any. */
  finish(call: LogCall): void {
    const dropped = this.limiter.finish(call.id);
    if (dropped > 0) this.log.warn({ event: 'functionLogDropped', id: call.requestId, dropped }, `log lines dropped: ${dropped}`);
  }

  /**
   * console output of the worker, line by line into the log, through the same per-function
   * bucket as env.log: a flood is dropped (and counted) instead of logged, and reading pauses
   * while everything is being dropped, so the flood costs the worker, not the gateway.
   */
  pipe(stream: Readable, which: 'stdout' | 'stderr'): void {
    let partial = '';
    stream.setEncoding('utf8');
    stream.on('data', (text: string) => {
      const lines = (partial + text).split('\n');
      partial = lines.pop() ?? '';
      if (partial.length > 4096) {
        lines.push(partial);
        partial = '';
      }
      let logged = 0;
      const now = performance.now();
      for (const raw of lines) {
        const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
        const text = line.length > 4096 ? `${line.slice(0, 4096)}…` : line;
        if (!this.limiter.admit(undefined, text.length, now)) continue;
        logged++;
        this.log.info({ event: 'functionOutput', stream: which }, this.redact(text));
      }
      this.scheduleStrayReport();
      if (logged === 0 && lines.length > 0) {
        stream.pause();
        setTimeout(() => stream.resume(), 100).unref?.();
      }
    });
  }

  /** Stops the pending stray report (the pool is closing). */
  close(): void {
    if (this.strayReport) clearTimeout(this.strayReport);
  }

  /** Reports lines dropped outside invocations (console output), at most once a second. */
  private scheduleStrayReport(): void {
    if (this.strayReport) return;
    this.strayReport = setTimeout(() => {
      this.strayReport = undefined;
      const dropped = this.limiter.takeStrayDropped();
      if (dropped > 0) this.log.warn({ event: 'functionLogDropped', dropped }, `log lines dropped: ${dropped}`);
    }, 1000);
    this.strayReport.unref?.();
  }
}
