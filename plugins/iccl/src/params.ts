import type { IcclOptions } from './method';
import type { ParamSchema, ParamValues } from '@iccl/trainer-api';
import { COMMON_PARAMS } from '@iccl/longtail';

/**
 * ICCL's parameters. Those marked "(ours)" are choices the paper does not fix (ICCL.md): they are
 * parameters with a default, not hidden constants.
 */
export const ICCL_PARAMS = {
  ...COMMON_PARAMS,
  crtEpochs: { ...COMMON_PARAMS.crtEpochs, default: 10, description: 'stage-2 cRT epochs (ICCL is a two-stage method; 0 skips stage 2)' },
  alpha: { type: 'float', default: 1, min: 0, description: 'interpolation alpha: lam ~ Beta(alpha, alpha); 0 disables mixing (lam = 1)' },
  tau: { type: 'float', default: 0.1, min: 1e-4, log: true, description: 'temperature of the centroid contrastive softmax, s = z.C^T / tau' },
  centroidMomentum: {
    type: 'float',
    default: 0.9,
    min: 0,
    max: 1,
    description:
      '(ours) EMA momentum m of the centroids: c_y <- normalize(m c_y + (1 - m) z_i) per non-interpolated sample. Per sample, so a centroid averages about (1 + m) / (1 - m) recent embeddings (19 at 0.9) whatever its class: a head class present 50 times in a batch is renewed every step, a tail class barely moves (bench/results/icc-loss.md)',
  },
  samplerRatio: {
    type: 'float',
    default: 0.5,
    min: 0,
    max: 1,
    description: '(ours) class-aware sampler: probability that a draw is class-balanced (else instance-balanced); 1 = fully class-balanced',
  },
  wIcc: { type: 'float', default: 1, min: 0, description: '(ours) weight of the ICC loss; 0 switches it off' },
  wCe: { type: 'float', default: 1, min: 0, description: '(ours) weight of plain cross-entropy on the class-agnostic batch; 0 switches it off' },
  wMix: {
    type: 'float',
    default: 1,
    min: 0,
    description: '(ours) weight of the interpolated cross-entropy lam CE(g(h~), ya) + (1 - lam) CE(g(h~), yb); 0 switches it off',
  },
  projDim: { type: 'int', default: 128, min: 2, description: 'output dimension d of the projection head (MLP dim(h) -> dim(h) -> d, L2-normalised)' },
  iccWarmupEpochs: {
    type: 'int',
    default: 1,
    min: 0,
    description:
      '(ours) epochs before the ICC loss starts; centroids are then set to the exact class means of the embeddings, one inference pass over the training set (0: before any training). The projection head is trained only by the ICC loss, so at that point it is still at its initialisation',
  },
  centroidSource: {
    type: 'categorical',
    default: 'agnostic',
    choices: ['agnostic', 'both'],
    description: '(ours) which non-interpolated samples feed the centroids: the class-agnostic batch, or both batches',
  },
  lambdaPerBatch: { type: 'bool', default: false, description: '(ours) one lam per batch instead of one per sample' },
  centroidUpdate: {
    type: 'categorical',
    default: 'ema',
    choices: ['ema', 'epoch-means'],
    description:
      "(ours) 'ema': the per-sample EMA above (ICCL.md); 'epoch-means' (an ablation): centroids fixed for an epoch, then set to the exact class means of that epoch's non-interpolated embeddings",
  },
} satisfies ParamSchema;

export type IcclParams = ParamValues<typeof ICCL_PARAMS>;

/** The ICCL method's own options, as they appear in a parameter set. */
export type IcclOnlyParams = Omit<IcclOptions, 'seed' | 'batchSize' | 'workers'>;

/** The ICCL-only part of a parameter set (logged and fingerprinted next to the common ones). */
export function icclOnly(p: IcclParams): IcclOnlyParams {
  return {
    alpha: p.alpha,
    tau: p.tau,
    centroidMomentum: p.centroidMomentum,
    samplerRatio: p.samplerRatio,
    wIcc: p.wIcc,
    wCe: p.wCe,
    wMix: p.wMix,
    projDim: p.projDim,
    iccWarmupEpochs: p.iccWarmupEpochs,
    centroidSource: p.centroidSource as IcclOptions['centroidSource'],
    lambdaPerBatch: p.lambdaPerBatch,
    centroidUpdate: p.centroidUpdate as 'ema' | 'epoch-means',
  };
}
