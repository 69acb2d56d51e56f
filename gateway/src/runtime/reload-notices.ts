/**
 * What a hot reload reports (reload.ts), and where it goes. Every step of a reload reports a
 * ReloadNotice on the function runtime's one ReloadBus: `reloadReporter` is the one switch that
 * turns them into log lines and hands the loads (ReloadEvent: reloadComplete or reloadFailed) to
 * the gateway's onReload, which counts them in tftpfn_function_reloads_total; subscribers
 * (`tftpfn dev`) get every notice as it happens.
 */
import type { Logger } from 'pino';

/** A version was loaded and now serves new requests. */
export interface ReloadComplete {
  readonly function: string;
  readonly version: string;
  readonly previous: string | undefined;
  readonly ok: true;
  readonly loadMs: number;
  readonly error?: undefined;
}

/** A version failed to load; the previous one (if any) keeps serving. */
export interface ReloadFailed {
  readonly function: string;
  readonly version: string;
  readonly previous: string | undefined;
  readonly ok: false;
  readonly loadMs: number;
  readonly error: string;
}

/** What the gateway's onReload is told: one load of a function version, good or bad (`ok` tells which). */
export type ReloadEvent = ReloadComplete | ReloadFailed;

/**
 * Everything a reload reports, tagged by `type`: the loads (handed on to onReload without the
 * tag, as before), and the steps that only the log hears of.
 */
export type ReloadNotice =
  | ({ readonly type: 'reloadComplete' } & ReloadComplete)
  | ({ readonly type: 'reloadFailed' } & ReloadFailed)
  /** The version source could not say which version is current (a build error, an unreadable folder). */
  | { readonly type: 'sourceFailed'; readonly function: string; readonly err: unknown }
  /** A replaced version finished its transfers and its pool was shut. */
  | { readonly type: 'versionRetired'; readonly function: string; readonly version: string }
  /** A change of the function's files started an attempt: build (ask the source), then load. */
  | { readonly type: 'buildStarted'; readonly function: string }
  /** A newer change (or shutdown) overtook an attempt: its build was cancelled or ignored, or the pool it loaded (`version`) shut unseen. */
  | { readonly type: 'reloadAbandoned'; readonly function: string; readonly version: string | undefined }
  /**
   * A change's build gave a version that needs no load: the one serving (a save that changed
   * nothing the bundle holds), or one that failed to load before (`error`, not tried again).
   * So every change's attempt ends in exactly one outcome notice.
   */
  | { readonly type: 'reloadUnchanged'; readonly function: string; readonly version: string; readonly error?: string };

/** The one dispatch of reload notices: log lines (unchanged wording) and onReload. */
export function reloadReporter(log: Logger, onReload: ((e: ReloadEvent) => void) | undefined): (n: ReloadNotice) => void {
  return (n) => {
    switch (n.type) {
      case 'sourceFailed':
        log.error({ event: 'functionSourceError', function: n.function, err: n.err }, `cannot read or build the current version of ${n.function}`);
        return;
      case 'reloadFailed':
        log.error(
          { event: 'functionRejected', function: n.function, version: n.version, previous: n.previous, error: n.error },
          `${n.function}@${n.version} failed to load; ${n.previous ? `${n.previous} keeps serving` : 'the function stays unavailable'}`,
        );
        onReload?.(untagged(n));
        return;
      case 'reloadComplete':
        log.info({ event: 'functionLoaded', function: n.function, version: n.version, previous: n.previous, loadMs: Math.round(n.loadMs) }, `${n.function}@${n.version} serving`);
        onReload?.(untagged(n));
        return;
      case 'versionRetired':
        log.info({ event: 'functionRetired', function: n.function, version: n.version }, `${n.function}@${n.version} retired`);
        return;
      case 'buildStarted':
        log.debug({ event: 'functionBuildStarted', function: n.function }, `${n.function} changed; building`);
        return;
      case 'reloadAbandoned':
        log.debug({ event: 'functionReloadAbandoned', function: n.function, version: n.version }, `${n.function}: a newer change overtook this build`);
        return;
      case 'reloadUnchanged':
        log.debug({ event: 'functionReloadUnchanged', function: n.function, version: n.version, error: n.error }, `${n.function}: rebuilt ${n.version}, nothing to load`);
        return;
    }
  };
}

type ReloadListener = (n: ReloadNotice) => void;

/**
 * The one bus of reload notices: each goes to the reporter (logs, onReload) and then to every
 * subscriber, in order; a subscriber that throws is logged and costs nothing else.
 */
export class ReloadBus {
  private readonly listeners = new Set<ReloadListener>();
  private readonly report: ReloadListener;

  constructor(private readonly log: Logger, onReload: ((e: ReloadEvent) => void) | undefined) {
    this.report = reloadReporter(log, onReload);
  }

  readonly emit = (n: ReloadNotice): void => {
    this.report(n);
    for (const listener of [...this.listeners]) {
      try {
        listener(n);
      } catch (err) {
        this.log.error({ event: 'reloadListenerError', function: n.function, err }, 'a reload subscriber threw');
      }
    }
  };

  /** Hands every later notice to `listener` until the returned function is called. */
  subscribe(listener: ReloadListener): () => void {
    const entry: ReloadListener = (n) => listener(n); // its own entry: subscribing twice is two
    this.listeners.add(entry);
    return () => void this.listeners.delete(entry);
  }
}

function untagged<T extends { type: string }>(n: T): Omit<T, 'type'> {
  const { type: _type, ...event } = n;
  return event;
}
