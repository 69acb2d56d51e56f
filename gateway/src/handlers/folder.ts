/**
 * The embedded default handler: every request is served from (or stored to) a local folder.
 */
import { requireFolder } from '../config/checks.js';
import type { RequestHandler } from './request.js';
import type { ByteReader, OpenedRead } from '../sources/types.js';
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

/** One function for every request (no async frame or closure per request). */
const fromFolder = (reader: ByteReader): OpenedRead => ({ reader, source: 'folder' });

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
    openRead(request) {
      const reader = source.openRead(request.path);
      return reader instanceof Promise ? reader.then(fromFolder) : fromFolder(reader);
    },
    openWrite: sink ? (request) => sink.openWrite(request.path) : undefined,
  };
}
