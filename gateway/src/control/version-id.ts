/**
 * Version ids, as the deploy folder has always made them (runtime/deploy-store.ts):
 * `YYYYMMDDTHHMMSSmmmZ-<first 8 hex of sha256>`, the publish time in UTC to the millisecond.
 * They sort by publish time as plain strings, and each is strictly later than the function's
 * newest one (a publish in the same millisecond, or after a clock stepped back, takes the
 * newest + 1 ms), so "newest first" is the id order in both control planes.
 */
export const VERSION_ID = /^\d{8}T\d{9}Z-[0-9a-f]{8}$/;

export function formatVersionId(ms: number, sha256: string): string {
  return `${new Date(ms).toISOString().replace(/[-:.]/g, '')}-${sha256.slice(0, 8)}`;
}

/** The publish time an id encodes, in ms since the epoch. */
export function versionIdMs(id: string): number {
  const m = /^(\d{4})(\d\d)(\d\d)T(\d\d)(\d\d)(\d\d)(\d{3})Z/.exec(id);
  if (!m) throw new Error(`"${id}" is not a version id (like 20250101T120000000Z-1a2b3c4d)`);
  return Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6], +m[7]);
}

/** The time of the next id: now, or just after the newest when that is not older. */
export function nextVersionMs(nowMs: number, newestId: string | undefined): number {
  return newestId === undefined ? nowMs : Math.max(nowMs, versionIdMs(newestId) + 1);
}
