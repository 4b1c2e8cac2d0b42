import { discardUpdates, trainingPass, type Pass } from '../../models/layers';
import type { Network } from '../../models/network';
import type { SgdMomentum } from '../../models/sgd';
import type { NamedVariable } from '../../models/store';
import { tfx, type NamedTensorMap, type Scalar, type Tensor, type Variable } from '../../models/tf';
import type { DeviceBatch, Stage1Method, StepDraws, StepInfo } from '../method';
import { tapedLoss } from '../step';
import { emitSgd, Program, type OutputRole } from './program';
import { GraphBuilder } from './graph';
import { tensorId, traceOps } from './trace';

/**
 * Plain cross-entropy reads nothing but its batch and the network (known by name: it predates
 * Stage1Method.traceable). Other methods declare `traceable`: their per-step values come from
 * drawStep (fed to the program every step) and what changes their ops from phase (retraced).
 */
const PURE_LOSS = new Set(['ce']);

/** Why `method` cannot use the compiled step, or null when it can. */
export function notCompilable(method: Stage1Method): string | null {
  if (PURE_LOSS.has(method.name) || method.traceable) return null;
  return `method ${method.name}: not declared traceable (its loss may draw per-step values in JavaScript or change with the epoch, which a traced graph would freeze)`;
}

export interface Ctx {
  net: Network;
  method: Stage1Method;
  opt: SgdMomentum;
  vars: NamedVariable[];
  a: DeviceBatch;
  b: DeviceBatch | null;
  info: StepInfo;
  lr: number;
  /** this step's drawStep values (inputs of the program) */
  draws?: StepDraws;
}

/** The momentum buffers of `opt`, by the variable name they belong to (SgdMomentum.state()'s names). */
export function slotsOf(opt: SgdMomentum): Map<string, Variable> {
  return new Map(opt.state().map((s) => [s.name.slice('opt/'.length), s.tensor as Variable]));
}

/** Every tensor a step reads, by feed key (lr excluded: it is made per step). */
export function feedTensors(c: Ctx, slots: Map<string, Variable>): Map<string, Tensor> {
  const m = new Map<string, Tensor>([
    ['a.x', c.a.x],
    ['a.y', c.a.y],
  ]);
  if (c.b) m.set('b.x', c.b.x).set('b.y', c.b.y);
  for (const v of c.vars) m.set(`v:${v.name}`, v.variable);
  for (const [name, s] of slots) m.set(`s:${name}`, s);
  for (const [k, t] of Object.entries(c.draws ?? {})) m.set(`d:${k}`, t);
  return m;
}

/** What the traced graph depends on besides input values: a change of any of it retraces. */
export function signatureOf(c: Ctx, slots: Map<string, Variable>): string {
  const shapes = [c.a.x, c.a.y, c.b?.x, c.b?.y].map((t) => (t ? t.shape.join('x') : '-'));
  const draws = Object.entries(c.draws ?? {}).map(([k, t]) => `${k}:${t.dtype}:${t.shape.join('x')}`);
  const vars = c.vars.map((v) => `${v.name}${v.variable.trainable ? '' : '!'}`);
  return [c.method.name, c.method.phase?.(c.info) ?? '', shapes.join(','), draws.join(','), vars.join(','), [...slots.keys()].join(',')].join('|');
}

/** The traced forward and backward pass and the ids of what it produced. */
export interface Traced {
  builder: GraphBuilder;
  value: Scalar;
  grads: NamedTensorMap;
  kept: Record<string, Scalar>;
  pass: Pass;
  /** ops traced */
  ops: number;
  after: Record<string, Tensor>;
  ids: { loss: number; terms: Record<string, number>; grads: Map<string, number>; updates: Map<string, number>; after: Record<string, number> };
}

export function traceForwardBackward(c: Ctx, trained: NamedVariable[], inputIds: Map<number, string>): Traced {
  const pass = trainingPass();
  const drawn = new Set([...inputIds].filter(([, k]) => k.startsWith('d:')).map(([id]) => id));
  const { result: out, trace } = traceOps(() => tapedLoss(c.net, c.method, c.a, c.b, pass, c.info, c.draws, trained), new Set(inputIds.keys()), drawn);
  const t = { ...out, pass };
  const refuse = (why: string): never => {
    abandonTrace(t);
    throw new Error(`compiled step: ${why}`);
  };
  if (trace.reads > 0) refuse(`the step reads ${trace.reads} value(s) back to JavaScript mid-step`);
  if (trace.frozenVariables.length) refuse(`the loss reads variable(s) ${trace.frozenVariables.join(', ')}, not among the step's variables (they would be frozen into the graph)`);
  const declared = [...inputIds.keys()].filter((id) => trace.externals.has(id));
  const builder = new GraphBuilder(trace, declared);
  const byVar = new Map(c.vars.map((v) => [v.variable, v.name]));
  const grads = new Map<string, number>();
  for (const v of trained) if (out.grads[v.variable.name]) grads.set(v.name, tensorId(out.grads[v.variable.name]));
  const updates = new Map<string, number>();
  for (const u of pass.updates) updates.set(byVar.get(u.target as Variable) ?? '?', tensorId(u.value));
  if (updates.has('?')) refuse('a running-statistics update targets a variable outside the step');
  const idsOf = (m: Record<string, Tensor>) => Object.fromEntries(Object.entries(m).map(([k, x]) => [k, tensorId(x)]));
  return { ...t, builder, ops: trace.ops.length, ids: { loss: tensorId(out.value), terms: idsOf(out.kept), grads, updates, after: idsOf(out.after) } };
}

/** Frees what a traced step made and discards its batch-norm updates (a step that will not be finished). */
export function abandonTrace(t: { pass: Pass; value: Scalar; kept: Record<string, Scalar>; grads: NamedTensorMap; after: Record<string, Tensor> }): void {
  discardUpdates(t.pass);
  tfx().dispose([t.value, ...Object.values(t.kept), ...Object.values(t.grads), ...Object.values(t.after)]);
}

/** TF_DataType of the tfjs dtypes an `after` tensor may have. */
const DTYPES: Record<string, number> = { float32: 1, int32: 3, bool: 10 };

/** Placeholders the optimizer needs, the SGD arithmetic and the fetches; the program loaded (compiled by XLA with `xla`). */
export function buildProgram(c: Ctx, t: Traced, trained: NamedVariable[], inputIds: Map<number, string>, feeds: Map<string, Tensor>, xla = false): Program {
  const g = t.builder;
  let synthetic = -1;
  const refOf = (key: string): string => {
    const tensor = feeds.get(key)!;
    const id = [...inputIds].find(([, k]) => k === key)?.[0];
    if (id !== undefined && g.has(id)) return g.ref(id);
    const sid = synthetic--;
    inputIds.set(sid, key);
    return g.addPlaceholder(sid, 1, [...tensor.shape]);
  };
  const lr = g.addPlaceholder(synthetic, 1, []);
  inputIds.set(synthetic--, 'lr');
  const outputs: { role: OutputRole; fetch: string }[] = [{ role: { kind: 'loss' }, fetch: g.fetch(g.ref(t.ids.loss)) }];
  for (const [k, id] of Object.entries(t.ids.terms)) outputs.push({ role: { kind: 'term', key: k }, fetch: g.fetch(g.ref(id)) });
  for (const [k, id] of Object.entries(t.ids.after)) outputs.push({ role: { kind: 'after', key: k }, fetch: g.fetch(g.ref(id), DTYPES[t.after[k].dtype]) });
  const wd = g.constF(c.opt.weightDecay);
  const mu = g.constF(c.opt.momentum);
  for (const v of trained) {
    const gid = t.ids.grads.get(v.name);
    if (gid === undefined) continue;
    const grad = g.ref(gid);
    outputs.push({ role: { kind: 'grad', key: v.name }, fetch: g.fetch(grad) });
    const buf = c.opt.momentum ? refOf(`s:${v.name}`) : null;
    const next = emitSgd(g, c.opt, { w: refOf(`v:${v.name}`), grad, buf, lr, wd, mu });
    outputs.push({ role: { kind: 'var', key: v.name }, fetch: g.fetch(next.w) });
    if (next.buf) outputs.push({ role: { kind: 'slot', key: v.name }, fetch: g.fetch(next.buf) });
  }
  for (const [name, id] of t.ids.updates) outputs.push({ role: { kind: 'var', key: name }, fetch: g.fetch(g.ref(id)) });
  return new Program(g, g.feeds.map((f) => inputIds.get(f.tracedId)!), outputs, xla);
}

