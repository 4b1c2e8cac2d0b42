import * as fs from 'node:fs';
import * as path from 'node:path';

type Value = string | number | boolean;

/** One method of a protocol: a trainer plugin at its defaults plus the protocol's common parameters. */
export interface MethodSpec {
  /** unit id in result file names: `<id>-s<seed>.json` */
  id: string;
  label: string;
  /** 'ce' | 'crt' | 'mixup' | 'iccl' */
  plugin: string;
  /** the method's own overrides (ablations); empty for a method at its documented defaults */
  set?: Record<string, Value>;
  /** a one-stage method read from the end of stage 1 of this unit (the same computation) */
  stage1As?: { id: string; label: string };
}

export interface MethodsProtocol {
  name: string;
  description: string;
  /** parameters shared by every unit (data, network, schedule, augmentation, evaluation) */
  params: Record<string, Value>;
  seeds: number[];
  methods: MethodSpec[];
  /** the paired comparison of the table: `a` minus `b`, per seed */
  paired: { a: string; b: string };
  /** declared before any result: below `min` mean `metric` of `method`, the protocol is not evidence */
  sanity?: { method: string; metric: 'top1' | 'many' | 'medium' | 'few'; min: number; then: string };
  ablation: { seeds: number[]; methods: MethodSpec[] };
}

function fail(file: string, msg: string): never {
  throw new Error(`${file}: ${msg}`);
}

function checkMethod(file: string, where: string, m: unknown): MethodSpec {
  const o = m as Partial<MethodSpec>;
  if (!o || typeof o !== 'object') fail(file, `${where}: expected an object`);
  for (const k of ['id', 'label', 'plugin'] as const) if (typeof o[k] !== 'string' || !o[k]) fail(file, `${where}.${k}: expected a non-empty string`);
  if (!/^[a-z0-9][a-z0-9-]*$/.test(o.id as string)) fail(file, `${where}.id "${o.id}": expected lower-case letters, digits and dashes`);
  if (!['ce', 'crt', 'mixup', 'iccl'].includes(o.plugin as string)) fail(file, `${where}.plugin "${o.plugin}": expected ce, crt, mixup or iccl`);
  return o as MethodSpec;
}

/** Reads and checks a protocol file (bench/methods/protocols/*.json); errors name the file and field. */
export function readMethodsProtocol(file: string): MethodsProtocol {
  let raw: Partial<MethodsProtocol>;
  try {
    raw = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new Error(`${file}: cannot read protocol (${(e as Error).message.split('\n')[0]})`);
  }
  if (raw.name !== path.basename(file, '.json')) fail(file, `name "${raw.name}": expected the file's name "${path.basename(file, '.json')}"`);
  if (typeof raw.description !== 'string' || raw.description.length < 20) fail(file, 'description: expected the protocol and its time arithmetic in words');
  if (!raw.params || typeof raw.params !== 'object') fail(file, 'params: expected an object of parameter values');
  const seeds = (s: unknown, where: string) => {
    if (!Array.isArray(s) || s.length === 0 || !s.every((x) => Number.isInteger(x) && x >= 0)) fail(file, `${where}: expected a non-empty list of integer seeds`);
    return s as number[];
  };
  seeds(raw.seeds, 'seeds');
  if (!Array.isArray(raw.methods) || raw.methods.length === 0) fail(file, 'methods: expected a non-empty list');
  raw.methods.forEach((m, i) => checkMethod(file, `methods[${i}]`, m));
  const ab = raw.ablation ?? { seeds: [0], methods: [] };
  seeds(ab.seeds, 'ablation.seeds');
  (ab.methods ?? []).forEach((m, i) => checkMethod(file, `ablation.methods[${i}]`, m));
  const ids = [...raw.methods, ...(ab.methods ?? [])].flatMap((m) => [m.id, ...(m.stage1As ? [m.stage1As.id] : [])]);
  const dup = ids.find((id, i) => ids.indexOf(id) !== i);
  if (dup) fail(file, `method id "${dup}" appears twice`);
  if (!raw.paired || !ids.includes(raw.paired.a) || !ids.includes(raw.paired.b)) fail(file, `paired: expected {a, b} naming two method ids of ${ids.join(', ')}`);
  const sc = raw.sanity;
  if (sc !== undefined) {
    if (!ids.includes(sc.method)) fail(file, `sanity.method "${sc.method}": expected one of ${ids.join(', ')}`);
    if (!['top1', 'many', 'medium', 'few'].includes(sc.metric)) fail(file, `sanity.metric "${sc.metric}": expected top1, many, medium or few`);
    if (typeof sc.min !== 'number' || !(sc.min >= 0 && sc.min <= 1)) fail(file, `sanity.min: expected an accuracy in [0, 1], got ${JSON.stringify(sc.min)}`);
    if (typeof sc.then !== 'string' || !sc.then) fail(file, 'sanity.then: expected what follows when the criterion fails, in words');
  }
  return { ...(raw as MethodsProtocol), ablation: { seeds: ab.seeds, methods: ab.methods ?? [] } };
}

/** One resumable unit: one method (or ablation variant) at one seed. */
export interface Unit {
  method: MethodSpec;
  seed: number;
  ablation: boolean;
}

/** The units in run order: the main table seed by seed (so a cut-off run has whole seeds), then the ablation. */
export function unitsOf(p: MethodsProtocol): Unit[] {
  const out: Unit[] = [];
  for (const seed of p.seeds) for (const method of p.methods) out.push({ method, seed, ablation: false });
  for (const seed of p.ablation.seeds) for (const method of p.ablation.methods) out.push({ method, seed, ablation: true });
  return out;
}

export function unitName(u: Unit): string {
  return `${u.method.id}-s${u.seed}`;
}
