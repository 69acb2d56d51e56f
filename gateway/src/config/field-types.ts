/**
 * The value types the config schema (schema.ts) builds its fields from: whole numbers and
 * numbers in a range, booleans, comma lists and CIDR lists, each accepting the text form the
 * environment and flags give (load.ts), and each failing with a message that names what it got
 * and the fix (a wrong value named by the schemas' `describeValue`).
 */
import * as s from '../schema/index.js';
import { cidrProblem } from './checks.js';

// Text (environment, flags) holding a number is parsed; anything else (null, "", true) is left
// for the type check, which names it (Number() would turn null and "" into 0 and true into 1).
// load.ts refuses quoted numbers in the JSON file, where a number must be a JSON number.
const numberFromText = (v: unknown) => (typeof v === 'string' && /^\s*-?\d+(\.\d+)?\s*$/.test(v) ? Number(v) : v);
/** A wrong type's message: what was expected, what came, and the fix. */
const typeError = (expected: string, fix: string) => (iss: { input: unknown }) => `expected ${expected}, got ${s.describeValue(iss.input)}: ${fix}`;
export const int = (min: number, max: number) => {
  const fix = `use a whole number from ${min} to ${max}`;
  return s.preprocess(numberFromText, s.number({ error: typeError('a number', fix) }).int(fix).min(min, fix).max(max, fix));
};
export const num = (min: number, max: number) => {
  const fix = `use a number from ${min} to ${max}`;
  return s.preprocess(numberFromText, s.number({ error: typeError('a number', fix) }).min(min, fix).max(max, fix));
};
export const bool = s.preprocess(
  (v) => (v === 'true' || v === '1' ? true : v === 'false' || v === '0' ? false : v),
  s.boolean({ error: typeError('true or false', 'use true or false') }),
);
export const list = s.preprocess((v) => (typeof v === 'string' ? v.split(',').map((part) => part.trim()).filter(Boolean) : v), s.array(s.string()));
export const cidrList = list.superRefine((items, ctx) => {
  for (const item of items) {
    const problem = cidrProblem(item);
    if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem });
  }
});

/** vars and secrets: NAME → text, names as in an environment. */
export const stringMap = s.record(s.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'names are letters, digits and _'), s.string());
