import { commitUpdates, discardUpdates, trainingPass } from '../models/layers';
import type { Network } from '../models/network';
import type { SgdMomentum } from '../models/sgd';
import type { NamedVariable } from '../models/store';
import { leanVariableGrads } from '../models/lean-grads';
import { tfx, type Scalar, type Tensor } from '../models/tf';
import type { DeviceBatch, Stage1Method, StepInfo } from './method';

export interface StepOutcome {
  loss: number;
  terms: Record<string, number>;
  /** false when the loss or a term was not finite: nothing was updated */
  finite: boolean;
}

/**
 * One stage-1 step of `method`: loss and gradients of every trained variable (network and method),
 * SGD update, batch-norm statistics, then the method's post-step hook (ICCL's centroid EMA). A
 * non-finite loss leaves every variable untouched and returns `finite: false`.
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
  const kept: Record<string, Scalar> = {};
  let out: { value: Scalar; grads: Record<string, Tensor> };
  try {
    out = leanVariableGrads(() => {
      const r = method.loss(net, a, b, pass, info);
      for (const [k, v] of Object.entries(r.terms)) kept[k] = tf.keep(v);
      return r.total;
    }, trained.map((v) => v.variable));
  } catch (e) {
    discardUpdates(pass);
    tf.dispose(Object.values(kept));
    throw e;
  }
  const loss = out.value.dataSync()[0];
  const terms: Record<string, number> = {};
  for (const [k, v] of Object.entries(kept)) terms[k] = v.dataSync()[0];
  tf.dispose([out.value, ...Object.values(kept)]);
  const finite = Number.isFinite(loss) && Object.values(terms).every(Number.isFinite);
  if (!finite) {
    tf.dispose(Object.values(out.grads));
    discardUpdates(pass);
    return { loss, terms, finite };
  }
  opt.apply(trained, out.grads, lr);
  commitUpdates(pass);
  tf.dispose(Object.values(out.grads));
  method.afterStep?.(info);
  return { loss, terms, finite };
}
