/**
 * Which versions a publish prunes: the oldest first, until at most `max` remain, skipping the
 * ones a rollout names (stable and canary) wherever they are. With two protected versions
 * among the oldest the newest `max - 2` others stay, so the count never exceeds `max`.
 * Both control planes use it; the Redis one runs the same rule inside its publish script.
 */
export function versionsToPrune(idsOldestFirst: readonly string[], keep: ReadonlySet<string>, max: number): string[] {
  const out: string[] = [];
  let remaining = idsOldestFirst.length;
  for (const id of idsOldestFirst) {
    if (remaining <= max) break;
    if (keep.has(id)) continue;
    out.push(id);
    remaining--;
  }
  return out;
}
