/** Argument parsers shared by the CLI verbs: a bad value is refused with the allowed range. */
import { InvalidArgumentError } from 'commander';

export function integer(min: number, max: number) {
  return (raw: string): number => {
    const n = /^[0-9]+$/.test(raw) ? Number(raw) : NaN;
    if (!(n >= min && n <= max)) throw new InvalidArgumentError(`expected a whole number from ${min} to ${max}`);
    return n;
  };
}
