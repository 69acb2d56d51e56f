/**
 * The embedded default handler: every request is served from (or stored to) a local folder.
 */
import { requireFolder } from '../config/checks.js';
import type { RequestHandler } from './request.js';
import { LocalDirSink } from '../sources/local-dir-sink.js';
import { localDirSource } from '../sources/local-dir-registry.js';

export interface FolderHandlerOptions {
  root: string;
  /** Uploads are accepted only when this is set. */
  writeRoot?: string;
  allowOverwrite?: boolean;
  readAheadBytes?: number;
  fileCacheTtlMs?: number;
  fileCacheMaxFileBytes?: number;
  fileCacheMaxBytes?: number;
}

export function folderHandler(opts: FolderHandlerOptions): RequestHandler {
  requireFolder('root', opts.root);
  if (opts.writeRoot) requireFolder('writeRoot', opts.writeRoot);
  // Shared with any other user of this root (a function's file()): one cache, one budget.
  const source = localDirSource(opts.root, {
    readAheadBytes: opts.readAheadBytes,
    cacheTtlMs: opts.fileCacheTtlMs,
    cacheMaxFileBytes: opts.fileCacheMaxFileBytes,
    cacheMaxTotalBytes: opts.fileCacheMaxBytes,
  });
  const sink = opts.writeRoot ? new LocalDirSink(opts.writeRoot, opts.allowOverwrite ?? false) : undefined;
  return {
    async openRead(request) {
      return { reader: await source.openRead(request.path), source: 'folder' };
    },
    openWrite: sink ? (request) => sink.openWrite(request.path) : undefined,
  };
}
