/**
 * Objects with named fields, lists, and records of names to values. Objects are strict: a key
 * the shape does not name is an `unrecognized_keys` issue (after the fields' own issues), so
 * the caller can name the keys that exist and the nearest one to a typo.
 */
import { describeValue } from './describe.js';
import { messageFor, Schema, type Input, type Issue, type Message, type Output, type PathSegment, type AnySchema } from './schema.js';

type Shape = Record<string, AnySchema>;
type Flat<T> = { [K in keyof T]: T[K] } & {};
/** Keys whose value may be undefined become optional keys (`a?: T`), as a config leaves them out. */
type OptionalKeys<T> = { [K in keyof T]-?: undefined extends T[K] ? K : never }[keyof T];
type WithOptionalKeys<T> = Flat<{ [K in Exclude<keyof T, OptionalKeys<T>>]: T[K] } & { [K in OptionalKeys<T>]?: T[K] }>;
export type ObjectOutput<S extends Shape> = WithOptionalKeys<{ [K in keyof S]: Output<S[K]> }>;
export type ObjectInput<S extends Shape> = WithOptionalKeys<{ [K in keyof S]: Input<S[K]> }>;

interface Options {
  error?: Message;
}

const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Sets `key` as an own property, "__proto__" included (JSON.parse makes it one; `o[k] = v` would change the prototype). */
function setOwn(o: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(o, key, { value, enumerable: true, writable: true, configurable: true });
}

export class ObjectSchema<S extends Shape> extends Schema<ObjectOutput<S>, ObjectInput<S>> {
  constructor(
    readonly shape: S,
    private readonly options: Options = {},
  ) {
    super();
  }
  protected parseValue(input: unknown, path: PathSegment[], issues: Issue[]): ObjectOutput<S> {
    if (!isPlainObject(input)) {
      issues.push({ code: 'invalid_type', path, input, message: messageFor(this.options.error, input, () => `expected an object, got ${describeValue(input)}`) });
      return input as ObjectOutput<S>;
    }
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(this.shape)) {
      const given = Object.hasOwn(input, key) ? input[key] : undefined;
      const v = this.shape[key].run(given, [...path, key], issues);
      if (v !== undefined || given !== undefined) out[key] = v;
    }
    const unknown = Object.keys(input).filter((k) => !Object.hasOwn(this.shape, k));
    if (unknown.length > 0) issues.push({ code: 'unrecognized_keys', path, keys: unknown, message: `unknown key ${unknown.map((k) => `"${k}"`).join(', ')}` });
    return out as ObjectOutput<S>;
  }
}

export class ArraySchema<E extends AnySchema> extends Schema<Output<E>[], Input<E>[]> {
  constructor(
    readonly element: E,
    private readonly options: Options = {},
  ) {
    super();
  }
  protected parseValue(input: unknown, path: PathSegment[], issues: Issue[]): Output<E>[] {
    if (!Array.isArray(input)) {
      issues.push({ code: 'invalid_type', path, input, message: messageFor(this.options.error, input, () => `expected a list, got ${describeValue(input)}`) });
      return input as Output<E>[];
    }
    return input.map((item, i) => this.element.run(item, [...path, i], issues) as Output<E>);
  }
}

/** NAME → value; a name the key schema refuses is an issue at that name, with the key schema's message. */
export class RecordSchema<K extends Schema<string, any>, V extends AnySchema> extends Schema<Record<Output<K>, Output<V>>, Record<string, Input<V>>> {
  constructor(
    readonly keys: K,
    readonly values: V,
    private readonly options: Options = {},
  ) {
    super();
  }
  protected parseValue(input: unknown, path: PathSegment[], issues: Issue[]): Record<Output<K>, Output<V>> {
    if (!isPlainObject(input)) {
      issues.push({ code: 'invalid_type', path, input, message: messageFor(this.options.error, input, () => `expected an object, got ${describeValue(input)}`) });
      return input as Record<Output<K>, Output<V>>;
    }
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(input)) {
      const at = [...path, key];
      const before = issues.length;
      this.keys.run(key, at, issues);
      if (issues.length === before) setOwn(out, key, this.values.run(input[key], at, issues));
    }
    return out as Record<Output<K>, Output<V>>;
  }
}
