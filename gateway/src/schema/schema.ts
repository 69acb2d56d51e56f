/**
 * The base of the gateway's own schemas: what the config (config/schema.ts), the route table
 * (routing/routes.ts) and a deployed version's manifest (control/manifest.ts) are checked
 * with. It replaces zod, which cost an idle gateway about 10 MiB of memory for the few checks
 * these need (issue 13, docs/PERFORMANCE.md "Idle memory without zod").
 *
 * A schema parses a value, pushing an Issue (path, message, and what was given) for every
 * problem it finds, never throwing. Its refinements run only on a value that parsed cleanly,
 * so a cross-field check sees the types it expects. Every message says what to do, not only
 * what is wrong.
 */
export type PathSegment = string | number;

export type Issue =
  | { readonly code: 'unrecognized_keys'; readonly path: PathSegment[]; readonly message: string; readonly keys: string[] }
  | { readonly code: 'invalid_type' | 'invalid_value' | 'custom'; readonly path: PathSegment[]; readonly message: string; readonly input?: unknown };

/** A type error's message: fixed text, or built from what was given. */
export type Message = string | ((issue: { readonly code: string; readonly input: unknown }) => string | undefined);

export function messageFor(message: Message | undefined, input: unknown, fallback: () => string): string {
  if (typeof message === 'string') return message;
  return message?.({ code: 'invalid_type', input }) ?? fallback();
}

export type ParseResult<T> = { success: true; data: T } | { success: false; error: { issues: Issue[] } };

/** What superRefine's function reports through; a path is relative to the refined value. */
export interface RefineContext {
  addIssue(issue: { code?: 'custom'; path?: PathSegment[]; message: string }): void;
}

type Refinement<T> = (value: T, path: PathSegment[], issues: Issue[]) => void;

export abstract class Schema<Out, In = Out> {
  /** Types only: what parse returns and what it is meant to be given. */
  declare readonly _output: Out;
  declare readonly _input: In;
  private refinements: readonly Refinement<Out>[] = [];

  /** Checks the type and the schema's own rules; issues are pushed, the value returned is the parsed one. */
  protected abstract parseValue(input: unknown, path: PathSegment[], issues: Issue[]): Out;

  /** Parses `input` found at `path`, pushing its issues; the result is meaningful only when none were pushed. */
  run(input: unknown, path: PathSegment[], issues: Issue[]): Out {
    const before = issues.length;
    const value = this.parseValue(input, path, issues);
    for (const refine of this.refinements) {
      if (issues.length !== before) break;
      refine(value, path, issues);
    }
    return value;
  }

  /** The schema underneath optional, default and text-parsing wrappers (what a field really holds). */
  base(): AnySchema {
    return this;
  }

  safeParse(input: unknown): ParseResult<Out> {
    const issues: Issue[] = [];
    const data = this.run(input, [], issues);
    return issues.length === 0 ? { success: true, data } : { success: false, error: { issues } };
  }

  parse(input: unknown): Out {
    const r = this.safeParse(input);
    if (!r.success) throw new Error(r.error.issues.map((i) => `${i.path.join('.') || '(value)'}: ${i.message}`).join('; '));
    return r.data;
  }

  optional(): OptionalSchema<this> {
    return new OptionalSchema(this);
  }

  default(value: Exclude<Out, undefined>): DefaultSchema<this> {
    return new DefaultSchema(this, value as Exclude<Output<this>, undefined>);
  }

  /** Then `next` parses what this one produced. */
  pipe<Next extends AnySchema>(next: Next): PipeSchema<Out, In, Output<Next>> {
    return new PipeSchema<Out, In, Output<Next>>(this, next as Schema<Output<Next>, unknown>);
  }

  refine(ok: (value: Out) => boolean, message: string): this {
    return this.withRefinement((value, path, issues) => {
      if (!ok(value)) issues.push({ code: 'custom', path, message, input: value });
    });
  }

  superRefine(check: (value: Out, ctx: RefineContext) => void): this {
    return this.withRefinement((value, path, issues) =>
      check(value, { addIssue: (i) => issues.push({ code: 'custom', path: [...path, ...(i.path ?? [])], message: i.message, input: value }) }),
    );
  }

  private withRefinement(refine: Refinement<Out>): this {
    return this.copyWith({ refinements: [...this.refinements, refine] });
  }

  /** A copy with `changes` applied: schemas are shared (a field type serves many fields), so never changed in place. */
  protected copyWith(changes: object): this {
    return Object.assign(Object.create(Object.getPrototypeOf(this)) as this, this, changes);
  }
}

export type Output<S> = S extends Schema<infer O, any> ? O : never;
export type Input<S> = S extends Schema<any, infer I> ? I : never;
/**
 * Any schema, as a constraint: `any` because a schema's output type is invariant (its
 * refinements take the value), so Schema<number> is not a Schema<unknown>.
 */
export type AnySchema = Schema<any, any>;

/** Absent (undefined) is allowed and stays absent. */
export class OptionalSchema<S extends AnySchema> extends Schema<Output<S> | undefined, Input<S> | undefined> {
  constructor(readonly inner: S) {
    super();
  }
  protected parseValue(input: unknown, path: PathSegment[], issues: Issue[]): Output<S> | undefined {
    return input === undefined ? undefined : (this.inner.run(input, path, issues) as Output<S>);
  }
  unwrap(): S {
    return this.inner;
  }
  override base(): AnySchema {
    return this.inner.base();
  }
}

/** Absent (undefined) becomes the default: a fresh copy of it, so parsed configs share nothing. */
export class DefaultSchema<S extends AnySchema> extends Schema<Exclude<Output<S>, undefined>, Input<S> | undefined> {
  constructor(
    readonly inner: S,
    private readonly value: Exclude<Output<S>, undefined>,
  ) {
    super();
  }
  protected parseValue(input: unknown, path: PathSegment[], issues: Issue[]): Exclude<Output<S>, undefined> {
    if (input !== undefined) return this.inner.run(input, path, issues) as Exclude<Output<S>, undefined>;
    const v = this.value as unknown;
    if (Array.isArray(v)) return [...v] as Exclude<Output<S>, undefined>;
    if (typeof v === 'object' && v !== null) return { ...v } as Exclude<Output<S>, undefined>;
    return this.value;
  }
  unwrap(): S {
    return this.inner;
  }
  override base(): AnySchema {
    return this.inner.base();
  }
}

/** Two schemas in a row: the second parses what the first produced, if the first found no problem. */
export class PipeSchema<Mid, In, Out> extends Schema<Out, In> {
  constructor(
    readonly first: Schema<Mid, In>,
    readonly second: Schema<Out, unknown>,
  ) {
    super();
  }
  protected parseValue(input: unknown, path: PathSegment[], issues: Issue[]): Out {
    const before = issues.length;
    const mid = this.first.run(input, path, issues);
    return issues.length === before ? this.second.run(mid, path, issues) : (mid as unknown as Out);
  }
  override base(): AnySchema {
    return this.second.base();
  }
}

/** `prepare` turns the given value into what `schema` checks (text from the environment into a number). */
export class PreprocessSchema<S extends AnySchema> extends Schema<Output<S>, unknown> {
  constructor(
    private readonly prepare: (input: unknown) => unknown,
    readonly inner: S,
  ) {
    super();
  }
  protected parseValue(input: unknown, path: PathSegment[], issues: Issue[]): Output<S> {
    return this.inner.run(this.prepare(input), path, issues) as Output<S>;
  }
  override base(): AnySchema {
    return this.inner.base();
  }
}
