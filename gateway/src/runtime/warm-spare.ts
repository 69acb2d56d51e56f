/**
 * A warm spare: one sandboxed function process started ahead of need, idle, so that the next
 * version of the function (a save in `tftpfn dev`, a hot reload) only has its bundle copied in
 * and loaded instead of waiting for a Node process to start, which is most of a reload
 * (docs/FUNCTIONS.md, "Reload latency and the warm spare": a new process's spawn to ready is
 * 72-170 ms on a quiet 2-core machine and 100-500 ms on a loaded one; the build, 8-30 ms).
 *
 * Isolation is the same by construction: a spare is started with exactly the command a
 * dedicated process would get (sandboxCommand of the same SpareShape: permission flags, heap and
 * data limits, user, network namespace, allowRead, environment), on a fresh sandbox folder of
 * its own that holds only the host module; the permission model lets it read that folder and
 * nothing else, and the bundle is copied into that same folder when the spare is adopted, right
 * before its boot message. It runs no user code before then and sends nothing: a message from an
 * idle spare is a violation and kills it.
 *
 * A spare's life:
 *   starting ──spawned──▶ idle ──take(shape equal)──▶ adopted (the supervisor's worker)
 *                          │ exit, or take(other shape), or close
 *                          ▼
 *                        gone ──▶ a new spare (after restart-backoff.ts's wait when it died)
 *  - After an adoption a new spare is started once the adopted process has answered (ready or
 *    loadError) or died, so the two do not compete for the CPU during the reload; a person's
 *    next save finds it warm (it takes 70-170 ms to start).
 *  - take() with a shape unlike the spare's (the new version's settings differ) discards it and
 *    starts one of the new shape; that reload starts a dedicated process as before.
 *  - close() kills the spare and removes its folder; an adopted spare belongs to its pool.
 */
import type { Logger } from 'pino';
import { RestartBackoff } from './restart-backoff.js';
import { startProcessWorker, type ProcessWorker } from './sandbox-process.js';
import { prepareHostDir, sandboxCommand, type SandboxCommandSpec } from './sandbox-spawn.js';
import { removeTempDir } from './temp-dirs.js';
import type { WorkerEvents, WorkerExit } from './worker-handle.js';

/** Everything a sandboxed process is started with except its folder: equal shapes, equal rights. */
export interface SpareShape {
  readonly command: Omit<SandboxCommandSpec, 'sandboxDir'>;
  readonly env: Readonly<Record<string, string>>;
}

/** A spare handed to a pool: its process, its own sandbox folder, and where its events go from now on. */
export interface AdoptedSpare {
  readonly worker: ProcessWorker;
  readonly dir: string;
  /** Routes the process's messages and exit to the pool's worker from now on. */
  bind(events: WorkerEvents): void;
}

/** What a supervisor asks for (WorkerSupervisor, PoolSpec.spare). */
export interface SpareSupply {
  /** An idle spare of exactly this shape, or undefined (then one of this shape is started for next time). */
  take(shape: SpareShape): AdoptedSpare | undefined;
}

/** Starts one idle process on `dir` (injected by unit tests). */
export type SpareStarter = (shape: SpareShape, dir: string, events: WorkerEvents) => ProcessWorker;

const startIdle: SpareStarter = (shape, dir, events) =>
  startProcessWorker({ command: sandboxCommand({ ...shape.command, sandboxDir: dir }), env: { ...shape.env }, cwd: dir }, events);

interface Spare {
  readonly key: string;
  dir: string | undefined;
  worker: ProcessWorker | undefined;
  events: WorkerEvents;
  gone: Promise<void>;
}

export interface WarmSpareOptions {
  readonly log: Logger;
  readonly start?: SpareStarter;
  /** Makes a spare's folder (prepareHostDir for the shape's user). */
  readonly makeDir?: (shape: SpareShape) => Promise<string>;
  readonly removeDir?: (dir: string) => void;
}

/** The keys of a shape in a fixed order: two shapes with equal fields have equal keys. */
export function shapeKey(shape: SpareShape): string {
  const c = shape.command;
  return JSON.stringify([c.heapMb, c.memoryMb, c.user?.uid, c.user?.gid, c.network, c.unsharePath, c.allowRead ?? [], c.nodeDataKb ?? 0, Object.entries(shape.env).sort()]);
}

export class WarmSpare implements SpareSupply {
  private spare: Spare | undefined;
  private wanted: SpareShape | undefined;
  private closed = false;
  private readonly backoff = new RestartBackoff();
  private refillTimer: NodeJS.Timeout | undefined;
  private readonly start: SpareStarter;
  private readonly makeDir: (shape: SpareShape) => Promise<string>;
  private readonly removeDir: (dir: string) => void;
  /** Counters for tests and the log: spares started, adopted, died idle. */
  readonly stats = { started: 0, adopted: 0, died: 0 };

  constructor(private readonly opts: WarmSpareOptions) {
    this.start = opts.start ?? startIdle;
    this.makeDir = opts.makeDir ?? ((shape) => prepareHostDir(shape.command.user));
    this.removeDir = opts.removeDir ?? removeTempDir;
  }

  /** The idle spare's pid, if one is running (tests). */
  get pid(): number | undefined {
    return this.spare?.worker?.exited === false ? this.spare.worker.pid : undefined;
  }

  /** Resolves once an idle spare is running (or none will be: closed, or it could not start). */
  async idle(): Promise<void> {
    for (let i = 0; i < 1000 && !this.closed; i++) {
      if (this.spare?.worker && !this.spare.worker.exited) return;
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  take(shape: SpareShape): AdoptedSpare | undefined {
    if (this.closed) return undefined;
    this.wanted = shape;
    const key = shapeKey(shape);
    const s = this.spare;
    if (s && s.key === key && s.worker && s.dir && !s.worker.exited) {
      this.spare = undefined;
      this.stats.adopted++;
      const { worker, dir } = s;
      // The next spare starts once this one has answered (ready or loadError) or died: a Node
      // start beside the load would compete with it for the CPU, on the reload's critical path.
      let refilled = false;
      const refill = () => {
        if (refilled) return;
        refilled = true;
        this.fill();
      };
      return {
        worker,
        dir,
        bind: (events) => {
          s.events = {
            message: (raw) => {
              refill();
              events.message(raw);
            },
            exit: (exit) => {
              refill();
              events.exit(exit);
            },
          };
        },
      };
    }
    if (s && s.key !== key) this.discard(s);
    if (!this.spare) this.fill();
    return undefined;
  }

  /** Kills the idle spare and removes its folder; starts no more. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.refillTimer) clearTimeout(this.refillTimer);
    const s = this.spare;
    this.spare = undefined;
    if (s) await this.discard(s);
  }

  /** Starts a spare of the wanted shape, unless one is there or coming. */
  private fill(): void {
    const shape = this.wanted;
    if (this.closed || !shape || this.spare || this.refillTimer) return;
    let gone!: () => void;
    const s: Spare = {
      key: shapeKey(shape),
      dir: undefined,
      worker: undefined,
      gone: new Promise<void>((r) => (gone = r)),
      events: {
        // An idle spare has run no user code and has nothing to say.
        message: () => s.worker?.terminate(),
        exit: (exit) => this.died(s, exit),
      },
    };
    const done = (exit: WorkerExit) => {
      s.events.exit(exit);
      gone();
    };
    this.spare = s;
    this.stats.started++;
    void this.makeDir(shape).then(
      (dir) => {
        s.dir = dir;
        if (this.spare !== s) {
          // Discarded or closed while its folder was being made.
          this.removeDir(dir);
          return gone();
        }
        try {
          s.worker = this.start(shape, dir, { message: (raw) => s.events.message(raw), exit: done });
        } catch (error) {
          done({ code: null, signal: null, heapExhausted: false, memoryExhausted: false, error: error as Error });
        }
      },
      (err: unknown) => {
        this.opts.log.warn({ event: 'warmSpareFailed', err }, 'cannot prepare a warm spare sandbox folder; reloads start a fresh process');
        if (this.spare === s) this.spare = undefined;
        gone();
      },
    );
  }

  /** An idle spare died (not one adopted: its events went to the pool by then): replace it, with backoff. */
  private died(s: Spare, exit: WorkerExit): void {
    if (s.dir) this.removeDir(s.dir);
    if (this.spare !== s) return; // discarded or closed: expected
    this.spare = undefined;
    this.stats.died++;
    this.opts.log.warn({ event: 'warmSpareExit', code: exit.code, signal: exit.signal, err: exit.error }, 'the idle warm spare process exited; starting another');
    const delayMs = this.backoff.next(Date.now());
    this.refillTimer = setTimeout(() => {
      this.refillTimer = undefined;
      this.fill();
    }, delayMs);
    this.refillTimer.unref?.();
  }

  private discard(s: Spare): Promise<void> {
    if (this.spare === s) this.spare = undefined;
    // Still making its folder: fill() removes it when done. Exited: `gone` has settled.
    if (s.worker && !s.worker.exited) s.worker.terminate();
    return s.gone;
  }
}
