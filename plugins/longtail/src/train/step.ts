import { commitUpdates, discardUpdates, trainingPass, type Pass } from '../models/layers';
import type { Network } from '../models/network';
import type { SgdMomentum } from '../models/sgd';
import type { NamedVariable } from '../models/store';
import { leanVariableGrads } from '../models/lean-grads';
import { tfx, type NamedTensorMap, type Scalar, type Tensor } from '../models/tf';
import type { DeviceBatch, Stage1Method, StepDraws, StepInfo } from './method';

export interface StepOutcome {
  loss: number;
  terms: Record<string, number>;
  /** false when the loss or a term was not finite: nothing was updated */
  finite: boolean;
}

/** The method's loss on the tape and its gradients, with its terms and `after` tensors kept. */
export interface TapedLoss {
  value: Scalar;
  grads: NamedTensorMap;
  kept: Record<string, Scalar>;
  after: Record<string, Tensor>;
}

/**
 * Loss and gradients of `trained` for one step of `method` (shared by the eager step and the
 * tracer of the compiled one). On an error everything it made is freed and the pass discarded.
 */
export function tapedLoss(net: Network, method: Stage1Method, a: DeviceBatch, b: DeviceBatch | null, pass: Pass, info: StepInfo, draws: StepDraws | undefined, trained: NamedVariable[]): TapedLoss {
  const tf = tfx();
  const kept: Record<string, Scalar> = {};
  const after: Record<string, Tensor> = {};
  try {
    const out = leanVariableGrads(() => {
      const r = method.loss(net, a, b, pass, info, draws);
      for (const [k, v] of Object.entries(r.terms)) kept[k] = tf.keep(v);
      for (const [k, v] of Object.entries(r.after ?? {})) after[k] = tf.keep(v);
      return r.total;
    }, trained.map((v) => v.variable));
    return { ...out, kept, after };
  } catch (e) {
    discardUpdates(pass);
    tf.dispose([...Object.values(kept), ...Object.values(after)]);
    throw e;
  }
}

/**
 * One stage-1 step of `method`: its per-step draws (before the tape), loss and gradients of every
 * trained variable (network and method), SGD update, batch-norm statistics, then the method's
 * post-step hook (ICCL's centroid EMA). A non-finite loss leaves every variable untouched and
 * returns `finite: false`.
 */
export function stage1Step(
  net: Network,
  method: Stage1Method,
  opt: SgdMomentum,
  vars: NamedVariable[],
  a: DeviceBatch,
  b: DeviceBatch | null,
  info: StepInfo,
  lr: number,
): StepOutcome {
  const tf = tfx();
  const pass = trainingPass();
  const trained = vars.filter((v) => v.role !== 'state');
  const draws = method.drawStep?.(a, b, info);
  let out: TapedLoss;
  try {
    out = tapedLoss(net, method, a, b, pass, info, draws, trained);
  } finally {
    tf.dispose(Object.values(draws ?? {}));
  }
  return finishStep(method, opt, trained, pass, out, info, lr);
}

/** The rest of a step after its gradients: read the loss, then update and call afterStep if finite. */
export function finishStep(method: Stage1Method, opt: SgdMomentum, trained: NamedVariable[], pass: Pass, out: TapedLoss, info: StepInfo, lr: number): StepOutcome {
  const tf = tfx();
  const loss = out.value.dataSync()[0];
  const terms: Record<string, number> = {};
  for (const [k, v] of Object.entries(out.kept)) terms[k] = v.dataSync()[0];
  tf.dispose([out.value, ...Object.values(out.kept)]);
  const finite = Number.isFinite(loss) && Object.values(terms).every(Number.isFinite);
  if (!finite) {
    tf.dispose([...Object.values(out.grads), ...Object.values(out.after)]);
    discardUpdates(pass);
    return { loss, terms, finite };
  }
  opt.apply(trained, out.grads, lr);
  commitUpdates(pass);
  tf.dispose(Object.values(out.grads));
  try {
    method.afterStep?.(info, out.after);
  } finally {
    tf.dispose(Object.values(out.after));
  }
  return { loss, terms, finite };
}
