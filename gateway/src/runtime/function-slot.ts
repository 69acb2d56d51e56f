/**
 * One function the gateway serves, as the function runtime (function-runtime.ts) holds it: where
 * its versions come from (version-sources.ts), its generations (generations.ts), its reloads
 * (reload.ts), the request handler the router calls, and the status the server stats read.
 */
import type { RequestHandler } from '../handlers/request.js';
import { functionHandler, type FunctionUploadOptions } from '../handlers/function.js';
import type { ObjectSource } from '../objects/object-source.js';
import type { LocalDirSink, LocalDirSource } from '../sources/local-dir.js';
import { clientIdentity } from './canary-pick.js';
import { Generations, type PoolTotals } from './generations.js';
import type { Invoker } from './invoker.js';
import { Reloader, type ReloadTrigger } from './reload.js';
import type { ReloadNotice } from './reload-notices.js';
import type { VersionSource, VersionSourceKind, VersionSpec } from './version-sources.js';
import { WorkerPool } from './worker-pool.js';

export interface FunctionStatus {
  readonly name: string;
  readonly source: VersionSourceKind;
  readonly version: string | undefined;
  /** A canary version beside it, and the percent of clients whose new sessions it takes. */
  readonly canary?: { readonly version: string; readonly percent: number };
  readonly workers: number;
  readonly inflight: number;
  /** Older versions still finishing transfers. */
  readonly draining: number;
  /** Totals over every version this gateway ran (worker pools only; zeros in process). */
  readonly totals: PoolTotals;
}

/** One function: where its versions come from, its generations, its reloads and its handler. */
export class FunctionSlot {
  readonly generations: Generations;
  readonly reloader: Reloader;
  readonly handler: RequestHandler;

  constructor(
    readonly name: string,
    readonly source: VersionSource,
    load: (spec: VersionSpec) => Promise<Invoker>,
    emit: (n: ReloadNotice) => void,
    files: LocalDirSource,
    sink: LocalDirSink | undefined,
    readAheadBytes: number,
    objects: ObjectSource | undefined,
    uploads?: FunctionUploadOptions,
    uploadsFor?: (version: string) => FunctionUploadOptions | undefined,
  ) {
    this.generations = new Generations(name);
    this.reloader = new Reloader(name, source, load, this.generations, emit);
    // The client's identity is only worked out while a canary splits new sessions.
    const pin = (request: { path: { normalized: string }; peer: { address: string } }) =>
      this.generations.pin(this.generations.canary ? clientIdentity(request.path.normalized, request.peer.address) : undefined);
    this.handler = functionHandler({ name, pin, files, sink, readAheadBytes, objects, uploads, uploadsFor });
  }

  reload(trigger?: ReloadTrigger): Promise<void> {
    return this.reloader.reload(trigger);
  }

  /** Its serving versions, workers and totals, for the server stats. */
  status(): FunctionStatus {
    const inv = this.generations.current?.invoker;
    const canary = this.generations.canary;
    return {
      name: this.name,
      source: this.source.kind,
      version: this.generations.current?.version,
      ...(canary ? { canary: { version: canary.generation.version, percent: canary.percent } } : {}),
      workers: inv instanceof WorkerPool ? inv.size : 0,
      inflight: inv?.inflight ?? 0,
      draining: this.generations.draining.size,
      totals: this.generations.totals(),
    };
  }

  /** Retires every version; after `graceMs`, versions still held are shut regardless. */
  async close(graceMs: number): Promise<void> {
    this.reloader.abort();
    await this.reloader.settled();
    await this.generations.close(graceMs);
  }
}
