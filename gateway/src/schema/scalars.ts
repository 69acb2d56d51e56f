/**
 * Single values: text, numbers, switches, one of a few words, a URL, anything, and a choice
 * between schemas. A value's checks (min, max, regex, ...) stop at the first that fails, so
 * a field gets one line, not three saying the same.
 */
import { describeValue } from './describe.js';
import { messageFor, Schema, type Issue, type Message, type Output, type PathSegment, type AnySchema } from './schema.js';

interface Options {
  /** The message when the value has the wrong type. */
  error?: Message;
}

type Check<T> = { ok: (v: T) => boolean; message: string };

/** A scalar with an ordered list of value checks; each check method returns a new schema. */
abstract class CheckedSchema<T> extends Schema<T> {
  private checks: readonly Check<T>[] = [];
  constructor(protected readonly options: Options = {}) {
    super();
  }
  /** The value with the right type, or undefined after pushing the type error. */
  protected abstract typed(input: unknown, path: PathSegment[], issues: Issue[]): T | undefined;
  protected parseValue(input: unknown, path: PathSegment[], issues: Issue[]): T {
    const v = this.typed(input, path, issues);
    if (v === undefined) return input as T;
    const failed = this.checks.find((c) => !c.ok(v));
    if (failed) issues.push({ code: 'invalid_value', path, message: failed.message, input });
    return v;
  }
  protected withCheck(ok: (v: T) => boolean, message: string): this {
    return this.copyWith({ checks: [...this.checks, { ok, message }] });
  }
  protected typeError(input: unknown, path: PathSegment[], issues: Issue[], expected: string): undefined {
    issues.push({ code: 'invalid_type', path, input, message: messageFor(this.options.error, input, () => `expected ${expected}, got ${describeValue(input)}`) });
    return undefined;
  }
}

export class StringSchema extends CheckedSchema<string> {
  protected typed(input: unknown, path: PathSegment[], issues: Issue[]): string | undefined {
    return typeof input === 'string' ? input : this.typeError(input, path, issues, 'text');
  }
  min(length: number, message = length === 1 ? 'must not be empty' : `use at least ${length} characters`): this {
    return this.withCheck((s) => s.length >= length, message);
  }
  regex(pattern: RegExp, message: string): this {
    return this.withCheck((s) => pattern.test(s), message);
  }
}

export class NumberSchema extends CheckedSchema<number> {
  protected typed(input: unknown, path: PathSegment[], issues: Issue[]): number | undefined {
    return typeof input === 'number' && Number.isFinite(input) ? input : this.typeError(input, path, issues, 'a number');
  }
  int(message = 'use a whole number'): this {
    return this.withCheck(Number.isInteger, message);
  }
  min(least: number, message = `use a number of at least ${least}`): this {
    return this.withCheck((n) => n >= least, message);
  }
  max(most: number, message = `use a number of at most ${most}`): this {
    return this.withCheck((n) => n <= most, message);
  }
}

export class BooleanSchema extends CheckedSchema<boolean> {
  protected typed(input: unknown, path: PathSegment[], issues: Issue[]): boolean | undefined {
    return typeof input === 'boolean' ? input : this.typeError(input, path, issues, 'true or false');
  }
}

/** One of a fixed list of words. */
export class EnumSchema<T extends string> extends CheckedSchema<T> {
  constructor(
    readonly values: readonly T[],
    options?: Options,
  ) {
    super(options);
  }
  protected typed(input: unknown, path: PathSegment[], issues: Issue[]): T | undefined {
    if ((this.values as readonly unknown[]).includes(input)) return input as T;
    issues.push({ code: 'invalid_value', path, input, message: messageFor(this.options.error, input, () => `use one of ${this.values.map((v) => `"${v}"`).join(', ')}; got ${describeValue(input)}`) });
    return undefined;
  }
}

/** Text that the WHATWG URL parser accepts (any scheme). */
export class UrlSchema extends CheckedSchema<string> {
  protected typed(input: unknown, path: PathSegment[], issues: Issue[]): string | undefined {
    if (typeof input === 'string' && URL.canParse(input)) return input;
    issues.push({ code: 'invalid_value', path, input, message: messageFor(this.options.error, input, () => `give a URL, e.g. http://127.0.0.1:9000; got ${describeValue(input)}`) });
    return undefined;
  }
}

export class UnknownSchema extends Schema<unknown> {
  protected parseValue(input: unknown): unknown {
    return input;
  }
}

/** The first of `options` that takes the value without a problem; one issue when none does. */
export class UnionSchema<S extends readonly AnySchema[]> extends Schema<Output<S[number]>, unknown> {
  constructor(
    readonly options: S,
    private readonly message: Message,
  ) {
    super();
  }
  protected parseValue(input: unknown, path: PathSegment[], issues: Issue[]): Output<S[number]> {
    for (const option of this.options) {
      const own: Issue[] = [];
      const v = option.run(input, path, own);
      if (own.length === 0) return v as Output<S[number]>;
    }
    issues.push({ code: 'invalid_type', path, input, message: messageFor(this.message, input, () => `got ${describeValue(input)}`) });
    return input as Output<S[number]>;
  }
}
