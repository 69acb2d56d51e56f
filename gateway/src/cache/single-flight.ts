/**
 * Request coalescing: concurrent calls for one key share one run of the work and one promise.
 * Used by the hot-file cache (one read of a file per stamp) and object metadata (one HEAD per
 * object); the chunk table coalesces by keeping the fetch promise in its LRU entry instead.
 *
 * The key is forgotten as soon as the run settles, success or failure: a failure is handed to
 * the callers waiting then, and the next call starts afresh rather than being served the old
 * error. Nothing is cached here; caching is the caller's business.
 *
 * `load` starts synchronously inside `run`, so work it does before its first await happens
 * before `run` returns, as if the caller had called it directly. A `load` that throws
 * synchronously gives a rejected promise, never a throw out of `run`. The one promise handed
 * out is the one the table holds, so a rejection is unhandled only if a caller drops it.
 */
export class SingleFlight<V> {
  private readonly pending = new Map<string, Promise<V>>();

  /** Runs currently under way (for tests and metrics). */
  get size(): number {
    return this.pending.size;
  }

  /** The run under way for `key`, joined; else `load()` started and registered under `key`. */
  run(key: string, load: () => Promise<V>): Promise<V> {
    const joined = this.pending.get(key);
    if (joined) return joined;
    let started: Promise<V>;
    try {
      started = Promise.resolve(load());
    } catch (e) {
      started = Promise.reject(e);
    }
    const shared: Promise<V> = started.finally(() => {
      if (this.pending.get(key) === shared) this.pending.delete(key);
    });
    this.pending.set(key, shared);
    return shared;
  }
}
