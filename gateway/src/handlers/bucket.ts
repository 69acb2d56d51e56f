/**
 * A route straight to a bucket, no function involved: the object `prefix + path` is served
 * through the shared object source (coalesced, cached). Read-only.
 */
import type { RequestHandler } from './request.js';
import type { ObjectSource } from '../objects/object-source.js';

export function bucketHandler(objects: ObjectSource, bucket: string, prefix: string): RequestHandler {
  return {
    async openRead(request, tags) {
      const opened = await objects.openRead({ bucket, key: `${prefix}${request.path.normalized}` });
      tags.cacheHit = opened.cacheHit;
      return { reader: opened.reader, source: opened.source };
    },
  };
}
