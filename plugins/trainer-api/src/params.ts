import { z } from 'zod';

/** One parameter of a trainer: its type, default, admissible range and what it means. */
export type ParamSpec =
  | { type: 'float'; default: number; min?: number; max?: number; log?: boolean; description: string }
  | { type: 'int'; default: number; min?: number; max?: number; description: string }
  | { type: 'bool'; default: boolean; description: string }
  | { type: 'string'; default: string; description: string }
  | {
      type: 'categorical';
      default: string | number | boolean;
      choices: readonly (string | number | boolean)[];
      description: string;
    };

export type ParamSchema = Record<string, ParamSpec>;

type ValueOf<S extends ParamSpec> = S extends { type: 'float' | 'int' }
  ? number
  : S extends { type: 'bool' }
    ? boolean
    : S extends { type: 'categorical'; choices: readonly (infer C)[] }
      ? C
      : string;

/** The validated, defaults-filled parameter values of a schema. */
export type ParamValues<S extends ParamSchema> = { [K in keyof S]: ValueOf<S[K]> };

export type ParamValue = string | number | boolean;

/** A bad parameter value: `message` is one line naming the parameter, the value and what was expected. */
export class ParamError extends Error {
  constructor(
    readonly param: string,
    readonly value: unknown,
    readonly expected: string,
  ) {
    super(`parameter "${param}": got ${JSON.stringify(value) ?? String(value)}, expected ${expected}`);
    this.name = 'ParamError';
  }
}

export function describeExpected(spec: ParamSpec): string {
  switch (spec.type) {
    case 'float':
    case 'int': {
      const kind = spec.type === 'int' ? 'an integer' : 'a finite number';
      if (spec.min !== undefined && spec.max !== undefined) return `${kind} in [${spec.min}, ${spec.max}]`;
      if (spec.min !== undefined) return `${kind} >= ${spec.min}`;
      if (spec.max !== undefined) return `${kind} <= ${spec.max}`;
      return kind;
    }
    case 'bool':
      return 'true or false';
    case 'string':
      return 'a string';
    case 'categorical':
      return `one of ${spec.choices.map((c) => JSON.stringify(c)).join(', ')}`;
  }
}

function zodFor(spec: ParamSpec): z.ZodType {
  switch (spec.type) {
    case 'float':
    case 'int': {
      let n = spec.type === 'int' ? z.number().int() : z.number().finite();
      if (spec.min !== undefined) n = n.gte(spec.min);
      if (spec.max !== undefined) n = n.lte(spec.max);
      return n;
    }
    case 'bool':
      return z.boolean();
    case 'string':
      return z.string();
    case 'categorical':
      return z.union(spec.choices.map((c) => z.literal(c)) as unknown as [z.ZodLiteral, z.ZodLiteral]);
  }
}

/**
 * Fills defaults and validates `input` against `schema`. Unknown keys are errors (a typo must not
 * silently train with a default). Throws ParamError for the first bad value, in schema order.
 */
export function validateParams<S extends ParamSchema>(schema: S, input: Record<string, unknown> = {}): ParamValues<S> {
  for (const key of Object.keys(input)) {
    if (!(key in schema)) {
      const known = Object.keys(schema).join(', ');
      throw new ParamError(key, input[key], `a known parameter (one of: ${known})`);
    }
  }
  const out: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(schema)) {
    const raw = input[name] === undefined ? spec.default : input[name];
    const parsed = zodFor(spec).safeParse(raw);
    if (!parsed.success) throw new ParamError(name, raw, describeExpected(spec));
    out[name] = parsed.data;
  }
  return out as ParamValues<S>;
}

/** Default values of a schema, for docs and for `--params` templates. */
export function defaultParams<S extends ParamSchema>(schema: S): ParamValues<S> {
  return validateParams(schema, {});
}
