import type { Network } from '../models/network';
import type { Pass } from '../models/layers';
import type { VariableStore } from '../models/store';
import type { Scalar, Tensor, Tensor1D, Tensor4D } from '../models/tf';
import type { SamplerKind } from '../samplers/sampler';
import type { Rng } from './random';

/** One batch on the device: images NHWC and int32 labels. */
export interface DeviceBatch {
  x: Tensor4D;
  y: Tensor1D;
  /** labels on the host, for bookkeeping without a read-back */
  labels: Int32Array;
  n: number;
}

export interface StepInfo {
  /** stage-1 epoch (0-based) and step within it */
  epoch: number;
  step: number;
  /** per-epoch generator: mixing coefficients, permutations (reproducible on resume) */
  rng: Rng;
}

export interface MethodLoss {
  total: Scalar;
  /** named terms for logging ('ce', 'mix', 'icc' become train/loss_ce, ...); scalars of the same tape */
  terms: Record<string, Scalar>;
  /**
   * tensors of the step that afterStep reads (ICCL: the embeddings that move its centroids), outside
   * the tape, where they are plain values (a stop-gradient); the step hands them over and frees them
   */
  after?: Record<string, Tensor>;
}

/**
 * This step's values drawn in JavaScript from `info.rng` (mixing coefficients, permutation indices),
 * as tensors made before the tape. The compiled step feeds them to its program as inputs every step
 * instead of freezing the first step's values into it as constants.
 */
export type StepDraws = Record<string, Tensor>;

/**
 * A stage-1 method as a strategy of the shared two-stage loop: cross-entropy, mixup and ICCL differ
 * only here. The loop owns data, network, optimiser, schedule, checkpoints, evaluation and stage 2.
 */
export interface Stage1Method {
  readonly name: string;
  /** the sampler of batch A (instance-balanced for all methods here) */
  readonly primarySampler: SamplerKind;
  /** the sampler of a second batch B drawn in parallel, or null for single-batch methods */
  readonly secondSampler: { kind: SamplerKind; samplerRatio?: number } | null;
  /** method-owned variables (heads, centroids): trained ones join the optimiser, all are checkpointed */
  readonly store: VariableStore | null;
  /** called before each stage-1 epoch (ICCL: start or finish its centroid warm-up) */
  beforeEpoch?(epoch: number, net: Network): Promise<void>;
  /**
   * Declares `loss` a pure function of the batches, the variables it is given (`vars` of the step) and
   * `drawStep`'s tensors, its ops fixed by the batch shapes and `phase`: the compiled step may then
   * run it as one traced graph. Without it the method runs eagerly.
   */
  readonly traceable?: boolean;
  /** draws this step's values from info.rng, in the order `loss` would; called once per step before the tape */
  drawStep?(a: DeviceBatch, b: DeviceBatch | null, info: StepInfo): StepDraws;
  /** what, besides batch shapes, decides the ops of `loss` (ICCL: warm-up or ICC term): a change retraces */
  phase?(info: StepInfo): string;
  /** the loss of one step, built inside the gradient tape; `draws`: what drawStep returned for this step */
  loss(net: Network, a: DeviceBatch, b: DeviceBatch | null, pass: Pass, info: StepInfo, draws?: StepDraws): MethodLoss;
  /** after the optimiser step, outside the tape (ICCL: centroid EMA); `after`: the loss's MethodLoss.after */
  afterStep?(info: StepInfo, after?: Record<string, Tensor>): void;
  /** after each stage-1 epoch */
  afterEpoch?(epoch: number): void;
  /** extra per-epoch metrics (ICCL: train/icc_retrieval, ...), given the epoch's train/* means */
  epochMetrics?(epoch: number, train: Record<string, number>): Record<string, number>;
  /** JSON state for checkpoints (variables in `store` are saved separately) */
  state?(): Record<string, unknown>;
  loadState?(state: Record<string, unknown>): void;
  dispose(): void;
}
