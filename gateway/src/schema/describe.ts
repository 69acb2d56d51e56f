/**
 * How a wrong value reads in an error: `null`, `an empty string`, `the string "x"`, `a list`,
 * `an object`, `true`, `5`. Schemas use it in their default messages; the config loader and a
 * deploy manifest name a wrong value with it too.
 */
export function describeValue(v: unknown): string {
  if (v === null) return 'null';
  if (v === '') return 'an empty string';
  if (typeof v === 'string') return `the string ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v)}`;
  if (Array.isArray(v)) return 'a list';
  return typeof v === 'object' ? 'an object' : String(v);
}
