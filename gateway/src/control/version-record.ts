/**
 * The record a publish makes of its input, at the publish time the plane handed out
 * (version-id.ts): one builder for both planes, so a field added to VersionRecord is filled
 * the same way in the deploy folder and in Redis. The record is immutable once stored.
 */
import type { PublishInput, VersionRecord } from './control-plane.js';
import { formatVersionId } from './version-id.js';

export function newVersionRecord(name: string, input: PublishInput, publishMs: number): VersionRecord {
  return {
    function: name,
    id: formatVersionId(publishMs, input.sha256),
    sha256: input.sha256,
    bytes: input.code.length,
    ...(input.message !== undefined ? { message: input.message } : {}),
    createdAt: new Date(publishMs).toISOString(),
    author: input.author,
    ...(input.entry !== undefined ? { entry: input.entry } : {}),
    settings: input.settings,
  };
}
