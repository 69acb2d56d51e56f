/**
 * The schema builders, imported as a namespace: `import * as s from '../schema/index.js'`,
 * then `s.object({ port: s.number().int() })`, `s.Output<typeof x>`. A subset of zod's API
 * (the parts the gateway used), with the gateway's own wording in its default messages.
 */
import { ArraySchema, ObjectSchema, RecordSchema } from './containers.js';
import { BooleanSchema, EnumSchema, NumberSchema, StringSchema, UnionSchema, UnknownSchema, UrlSchema } from './scalars.js';
import { PreprocessSchema, type AnySchema, type Message } from './schema.js';

export type { AnySchema, Input, Issue, Output, ParseResult, RefineContext } from './schema.js';
export { DefaultSchema, OptionalSchema, PipeSchema, PreprocessSchema, Schema } from './schema.js';
export { ArraySchema, ObjectSchema, RecordSchema } from './containers.js';
export { BooleanSchema, EnumSchema, NumberSchema, StringSchema, UnionSchema, UnknownSchema, UrlSchema } from './scalars.js';
export { describeValue } from './describe.js';

interface Options {
  /** The message for a value of the wrong type (text, or built from the issue's input). */
  error?: Message;
}

export const string = (options?: Options) => new StringSchema(options);
export const number = (options?: Options) => new NumberSchema(options);
export const boolean = (options?: Options) => new BooleanSchema(options);
export const url = (options?: Options) => new UrlSchema(options);
export const unknown = () => new UnknownSchema();
const enumOf = <const T extends string>(values: readonly T[], options?: Options) => new EnumSchema<T>(values, options);
/** `s.enum(['a', 'b'])`: one of these words (`enum` is a reserved word, so it is exported by that name only). */
export { enumOf as enum };
export const union = <const S extends readonly AnySchema[]>(options: S, opts: { error: Message }) => new UnionSchema(options, opts.error);
export const object = <S extends Record<string, AnySchema>>(shape: S, options?: Options) => new ObjectSchema(shape, options);
export const array = <E extends AnySchema>(element: E, options?: Options) => new ArraySchema(element, options);
export const record = <K extends StringSchema, V extends AnySchema>(keys: K, values: V, options?: Options) => new RecordSchema(keys, values, options);
export const preprocess = <S extends AnySchema>(prepare: (input: unknown) => unknown, schema: S) => new PreprocessSchema(prepare, schema);
