import { discardUpdates, trainingPass, type Pass } from '../../models/layers';
import { leanVariableGrads } from '../../models/lean-grads';
import type { Network } from '../../models/network';
import type { SgdMomentum } from '../../models/sgd';
import type { NamedVariable } from '../../models/store';
import { tfx, type NamedTensorMap, type Scalar, type Tensor, type Variable } from '../../models/tf';
import type { DeviceBatch, Stage1Method, StepInfo } from '../method';
import { emitSgd, Program, type OutputRole } from './program';
import { GraphBuilder } from './graph';
import { tensorId, traceOps } from './trace';

/**
 * Methods whose loss is a pure function of the batch tensors and the variables: no value drawn in
 * JavaScript per step (mixup's lambdas and permutation are), nothing that changes with the epoch.
 * Only these can run a traced graph again on new batches unchanged.
 */
const PURE_LOSS = new Set(['ce']);

/** Why `method` cannot use the compiled step, or null when it can. */
export function notCompilable(method: Stage1Method): string | null {
  if (PURE_LOSS.has(method.name)) return null;
  return `method ${method.name}: its loss draws per-step values in JavaScript or changes with the epoch, which a traced graph would freeze`;
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
  return m;
}

export function signatureOf(c: Ctx): string {
  const shapes = [c.a.x, c.a.y, c.b?.x, c.b?.y].map((t) => (t ? t.shape.join('x') : '-'));
  return `${c.method.name}|${shapes.join(',')}|${c.vars.map((v) => `${v.name}${v.variable.trainable ? '' : '!'}`).join(',')}`;
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
  ids: { loss: number; terms: Record<string, number>; grads: Map<string, number>; updates: Map<string, number> };
}

export function traceForwardBackward(c: Ctx, trained: NamedVariable[], inputIds: Map<number, string>): Traced {
  const tf = tfx();
  const pass = trainingPass();
  const kept: Record<string, Scalar> = {};
  let out: { value: Scalar; grads: NamedTensorMap };
  let trace;
  try {
    ({ result: out, trace } = traceOps(() =>
      leanVariableGrads(() => {
        const r = c.method.loss(c.net, c.a, c.b, pass, c.info);
        for (const [k, v] of Object.entries(r.terms)) kept[k] = tf.keep(v);
        return r.total;
      }, trained.map((v) => v.variable)),
    new Set(inputIds.keys())));
  } catch (e) {
    discardUpdates(pass);
    tf.dispose(Object.values(kept));
    throw e;
  }
  if (trace.reads > 0) {
    discardUpdates(pass);
    tf.dispose([out.value, ...Object.values(kept), ...Object.values(out.grads)]);
    throw new Error(`compiled step: the step reads ${trace.reads} value(s) back to JavaScript mid-step`);
  }
  const declared = [...inputIds.keys()].filter((id) => trace.externals.has(id));
  const builder = new GraphBuilder(trace, declared);
  const byVar = new Map(c.vars.map((v) => [v.variable, v.name]));
  const grads = new Map<string, number>();
  for (const v of trained) if (out.grads[v.variable.name]) grads.set(v.name, tensorId(out.grads[v.variable.name]));
  const updates = new Map<string, number>();
  for (const u of pass.updates) updates.set(byVar.get(u.target as Variable) ?? '?', tensorId(u.value));
  if (updates.has('?')) throw new Error('compiled step: a running-statistics update targets a variable outside the step');
  const terms = Object.fromEntries(Object.entries(kept).map(([k, t]) => [k, tensorId(t)]));
  return { builder, ops: trace.ops.length, value: out.value, grads: out.grads, kept, pass, ids: { loss: tensorId(out.value), terms, grads, updates } };
}

/** Placeholders the optimizer needs, the SGD arithmetic and the fetches; the program loaded. */
export function buildProgram(c: Ctx, t: Traced, trained: NamedVariable[], inputIds: Map<number, string>, feeds: Map<string, Tensor>): Program {
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
  return new Program(g, g.feeds.map((f) => inputIds.get(f.tracedId)!), outputs);
}

