/**
 * Parameter distributions, with the same fields and JSON form as Optuna's
 * (`FloatDistribution`, `IntDistribution`, `CategoricalDistribution`), so that journal files are
 * readable by Optuna. Internally every parameter value is a float ("internal repr"): the value
 * itself for numbers, the index of the choice for categoricals.
 */
export type CategoricalChoice = string | number | boolean | null;

export interface FloatDistribution {
  kind: 'float';
  low: number;
  high: number;
  log: boolean;
  step: number | null;
}
export interface IntDistribution {
  kind: 'int';
  low: number;
  high: number;
  log: boolean;
  step: number;
}
export interface CategoricalDistribution {
  kind: 'categorical';
  choices: CategoricalChoice[];
}
export type Distribution = FloatDistribution | IntDistribution | CategoricalDistribution;

export type ParamValue = number | string | boolean | null;

export function toInternal(d: Distribution, value: ParamValue): number {
  if (d.kind === 'categorical') {
    const i = d.choices.findIndex((c) => c === value);
    if (i < 0) throw new Error(`value ${JSON.stringify(value)} is not one of ${JSON.stringify(d.choices)}`);
    return i;
  }
  return value as number;
}

export function toExternal(d: Distribution, internal: number): ParamValue {
  if (d.kind === 'categorical') return d.choices[Math.round(internal)] ?? null;
  if (d.kind === 'int') return Math.round(internal);
  return internal;
}

export function isSingle(d: Distribution): boolean {
  if (d.kind === 'categorical') return d.choices.length === 1;
  return d.low === d.high;
}

export function contains(d: Distribution, internal: number): boolean {
  if (d.kind === 'categorical') return Number.isInteger(internal) && internal >= 0 && internal < d.choices.length;
  return internal >= d.low && internal <= d.high;
}

export function sameDistribution(a: Distribution, b: Distribution): boolean {
  return JSON.stringify(distributionToJson(a)) === JSON.stringify(distributionToJson(b));
}

/** Optuna's `distribution_to_json` form: {"name": "FloatDistribution", "attributes": {...}}. */
export function distributionToJson(d: Distribution): { name: string; attributes: Record<string, unknown> } {
  switch (d.kind) {
    case 'float':
      return { name: 'FloatDistribution', attributes: { step: d.step, low: d.low, high: d.high, log: d.log } };
    case 'int':
      return { name: 'IntDistribution', attributes: { log: d.log, step: d.step, low: d.low, high: d.high } };
    case 'categorical':
      return { name: 'CategoricalDistribution', attributes: { choices: d.choices } };
  }
}

export function distributionFromJson(j: { name: string; attributes: Record<string, unknown> } | string): Distribution {
  const o = typeof j === 'string' ? (JSON.parse(j) as { name: string; attributes: Record<string, unknown> }) : j;
  const a = o.attributes;
  switch (o.name) {
    case 'FloatDistribution':
      return { kind: 'float', low: a.low as number, high: a.high as number, log: !!a.log, step: (a.step as number | null) ?? null };
    case 'UniformDistribution':
      return { kind: 'float', low: a.low as number, high: a.high as number, log: false, step: null };
    case 'LogUniformDistribution':
      return { kind: 'float', low: a.low as number, high: a.high as number, log: true, step: null };
    case 'DiscreteUniformDistribution':
      return { kind: 'float', low: a.low as number, high: a.high as number, log: false, step: a.q as number };
    case 'IntDistribution':
      return { kind: 'int', low: a.low as number, high: a.high as number, log: !!a.log, step: (a.step as number) ?? 1 };
    case 'IntUniformDistribution':
      return { kind: 'int', low: a.low as number, high: a.high as number, log: false, step: (a.step as number) ?? 1 };
    case 'IntLogUniformDistribution':
      return { kind: 'int', low: a.low as number, high: a.high as number, log: true, step: 1 };
    case 'CategoricalDistribution':
      return { kind: 'categorical', choices: a.choices as CategoricalChoice[] };
    default:
      throw new Error(`unknown distribution ${o.name}`);
  }
}
