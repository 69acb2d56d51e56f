/**
 * One LocalDirSource per root: a folder route, the root folder and a function serving
 * `file()` from the same folder share one source, so one hot-file cache and one
 * `fileCacheMaxBytes` budget, instead of each holding its own copy of the same hot files.
 *
 * Keyed by the resolved root (realpath: "./srv", "/srv/" and a symlink to it are one root)
 * and the cache settings (two gateways in one process with different settings keep apart).
 * Entries are held weakly: a source nobody uses any more (a stopped gateway, a test) is
 * collected with its cache, so the registry never pins memory.
 */
import { realpathSync } from 'node:fs';
import { LocalDirSource, type LocalDirOptions } from './local-dir.js';

const sources = new Map<string, WeakRef<LocalDirSource>>();
const forget = new FinalizationRegistry<string>((key) => {
  // Only drop the entry if it still points at a collected source (a new one may have taken the key).
  if (sources.get(key)?.deref() === undefined) sources.delete(key);
});

function keyOf(realRoot: string, opts: LocalDirOptions): string {
  return JSON.stringify([realRoot, opts.readAheadBytes ?? null, opts.cacheTtlMs ?? null, opts.cacheMaxFileBytes ?? null, opts.cacheMaxTotalBytes ?? null]);
}

/** The LocalDirSource serving `root` with these settings, shared by every caller alive. */
export function localDirSource(root: string, opts: LocalDirOptions = {}): LocalDirSource {
  const key = keyOf(realpathSync(root), opts);
  const existing = sources.get(key)?.deref();
  if (existing) return existing;
  const source = new LocalDirSource(root, opts);
  sources.set(key, new WeakRef(source));
  forget.register(source, key);
  return source;
}
