/**
 * Serves a folder, or a bucket, through the function path: what `--root` does for the plain
 * gateway, but behind the runtime, as a template for functions that serve most files as they
 * are and generate a few. request.path is already normalised (relative, no '..').
 *
 * With `env.vars.BUCKET` set, the file is the object `PREFIX + path` in that bucket (S3, or the
 * gateway's local buckets folder), streamed as it is read and shared by concurrent sessions.
 * Without it, the runtime resolves file() under the configured root, refusing symlinks that
 * lead outside it.
 */
import { denied, file, s3Object, type Handler } from 'tftpfn/sdk';

export const handle: Handler = (request, env) => {
  // A folder served read-only: uploads belong to the gateway's writeRoot, not to a function.
  if (request.kind === 'write') return denied();
  const bucket = env.vars.BUCKET;
  if (bucket) return s3Object({ bucket, key: `${env.vars.PREFIX ?? ''}${request.path}` });
  return file(request.path);
};
