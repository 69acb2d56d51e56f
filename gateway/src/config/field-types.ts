/**
 * The value types the config schema (schema.ts) builds its fields from: whole numbers and
 * numbers in a range, booleans, comma lists and CIDR lists, each accepting the text form the
 * environment and flags give (load.ts), and each failing with a message that names what it got
 * and the fix. `describeValue` is also how load.ts and a deploy manifest (control/manifest.ts)
 * name a wrong value.
 */
import { z } from './zod.js';
import { cidrProblem } from './checks.js';

/** How a wrong value reads in an error: `null`, `an empty string`, `the string "x"`, `true`. */
export function describeValue(v: unknown): string {
  if (v === null) return 'null';
  if (v === '') return 'an empty string';
  if (typeof v === 'string') return `the string ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v)}`;
  if (Array.isArray(v)) return 'a list';
  return typeof v === 'object' ? 'an object' : String(v);
}
// Text (environment, flags) holding a number is parsed; anything else (null, "", true) is left
// for the type check, which names it: z.coerce turned null and "" into 0 and true into 1.
// load.ts refuses quoted numbers in the JSON file, where a number must be a JSON number.
const numberFromText = (v: unknown) => (typeof v === 'string' && /^\s*-?\d+(\.\d+)?\s*$/.test(v) ? Number(v) : v);
const typeError = (expected: string, fix: string) => (iss: { code?: string; input?: unknown }) =>
  iss.code === 'invalid_type' ? `expected ${expected}, got ${describeValue(iss.input)}: ${fix}` : fix;
export const int = (min: number, max: number) => {
  const fix = `use a whole number from ${min} to ${max}`;
  return z.preprocess(numberFromText, z.number({ error: typeError('a number', fix) }).int(fix).min(min, fix).max(max, fix));
};
export const num = (min: number, max: number) => {
  const fix = `use a number from ${min} to ${max}`;
  return z.preprocess(numberFromText, z.number({ error: typeError('a number', fix) }).min(min, fix).max(max, fix));
};
export const bool = z.preprocess(
  (v) => (v === 'true' || v === '1' ? true : v === 'false' || v === '0' ? false : v),
  z.boolean({ error: typeError('true or false', 'use true or false') }),
);
export const list = z.preprocess((v) => (typeof v === 'string' ? v.split(',').map((s) => s.trim()).filter(Boolean) : v), z.array(z.string()));
export const cidrList = list.superRefine((items, ctx) => {
  for (const item of items) {
    const problem = cidrProblem(item);
    if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem });
  }
});

/** vars and secrets: NAME → text, names as in an environment. */
export const stringMap = z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'names are letters, digits and _'), z.string());
