import {
  interpolate,
  mixedTargets,
  sampleLambdas,
  softCrossEntropy,
  tfx,
  type DeviceBatch,
  type MethodLoss,
  type Network,
  type Pass,
  type Stage1Method,
  type StepInfo,
  type Tensor,
  type Tensor1D,
  type Tensor4D,
} from '@iccl/longtail';

/**
 * mixup (Zhang et al., 2018): each batch is mixed with a random permutation of itself,
 * x~ = lam x + (1 - lam) x[perm], loss lam CE(y) + (1 - lam) CE(y[perm]); lam ~ Beta(alpha, alpha),
 * one per batch by default as in the original, or per sample.
 */
export class MixupMethod implements Stage1Method {
  readonly name = 'mixup';
  readonly primarySampler = 'instance' as const;
  readonly secondSampler = null;
  readonly store = null;

  constructor(private readonly o: { alpha: number; lambdaPerBatch: boolean }) {}

  /** Traced as one graph by the compiled step: the permutation and lambdas are drawStep's, fed each step. */
  readonly traceable = true;

  /** The permutation (Fisher-Yates from the top), then the lambdas: the order of the draws is the trace's. */
  drawStep(a: DeviceBatch, _b: DeviceBatch | null, info: StepInfo): Record<string, Tensor> {
    const tf = tfx();
    const perm = new Int32Array(a.n).map((_, i) => i);
    for (let i = a.n - 1; i > 0; i--) {
      const j = Math.floor(info.rng.next() * (i + 1));
      [perm[i], perm[j]] = [perm[j], perm[i]];
    }
    const lam = tf.tensor1d(sampleLambdas(info.rng, a.n, this.o.alpha, this.o.lambdaPerBatch));
    return { perm: tf.tensor1d(perm, 'int32'), lam };
  }

  loss(net: Network, a: DeviceBatch, b: DeviceBatch | null, pass: Pass, info: StepInfo, draws?: Record<string, Tensor>): MethodLoss {
    const tf = tfx();
    const { perm, lam } = (draws ?? this.drawStep(a, b, info)) as { perm: Tensor1D; lam: Tensor1D };
    const xMix = interpolate(a.x, tf.gather(a.x, perm) as Tensor4D, lam);
    const targets = mixedTargets(a.y, tf.gather(a.y, perm) as Tensor1D, lam, net.numClasses);
    const mix = softCrossEntropy(net.logits(xMix, pass), targets);
    return { total: mix, terms: { mix } };
  }

  dispose(): void {}
}
