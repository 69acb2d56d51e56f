/**
 * Serves the function's root folder through the function path: what `--root` does for the
 * plain gateway, but behind the runtime, as a template for functions that serve most files as
 * they are and generate a few. request.path is already normalised (relative, no '..'), and the
 * runtime resolves file() under the configured root, refusing symlinks that lead outside it.
 */
import { denied, file, type Handler } from 'tftpfn/sdk';

export const handle: Handler = (request) => {
  // A folder served read-only: uploads belong to the gateway's writeRoot, not to a function.
  if (request.kind === 'write') return denied();
  return file(request.path);
};
