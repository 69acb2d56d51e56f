/**
 * The embedded default handler: every request is served from (or stored to) a local folder.
 */
import type { RequestHandler } from '../request/request.js';
import { LocalDirSink, LocalDirSource } from './local-dir.js';

export interface FolderHandlerOptions {
  root: string;
  /** Uploads are accepted only when this is set. */
  writeRoot?: string;
  allowOverwrite?: boolean;
  readAheadBytes?: number;
}

export function folderHandler(opts: FolderHandlerOptions): RequestHandler {
  const source = new LocalDirSource(opts.root, opts.readAheadBytes);
  const sink = opts.writeRoot ? new LocalDirSink(opts.writeRoot, opts.allowOverwrite ?? false) : undefined;
  return {
    async openRead(request) {
      return { reader: await source.openRead(request.path), source: 'folder' };
    },
    openWrite: sink ? (request) => sink.openWrite(request.path) : undefined,
  };
}
