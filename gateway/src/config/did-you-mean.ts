/**
 * "Did you mean": the known name nearest to a mistyped one (Levenshtein distance, case
 * ignored), offered only when it is close enough to be a typo rather than another word.
 * Used for config fields, route keys and TFTPFN_* variables.
 */

export function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) row[j] = Math.min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = row;
  }
  return prev[b.length];
}

/** The nearest candidate, whatever its distance (undefined only for no candidates). */
export function nearest(name: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const c of candidates) {
    const d = editDistance(name.toLowerCase(), c.toLowerCase());
    if (d < bestDistance) [best, bestDistance] = [c, d];
  }
  return best;
}

/** ` (did you mean "x"?)` when a candidate is within a typo's reach of `name`, else ''. */
export function didYouMean(name: string, candidates: readonly string[]): string {
  const near = nearest(name, candidates);
  if (near === undefined) return '';
  return editDistance(name.toLowerCase(), near.toLowerCase()) <= Math.max(2, Math.floor(name.length / 3)) ? ` (did you mean "${near}"?)` : '';
}
