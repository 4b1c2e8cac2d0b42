import type { ParamSchema, ParamValues } from '@iccl/trainer-api';
import { MODEL_NAMES } from '../models/network';

/**
 * Parameters every long-tail trainer shares, under the same names, so that a tracker's compare view
 * lines ICCL and the baselines up column by column. Defaults are the CIFAR-10-LT / ResNet-32 protocol
 * of ICCL.md; `configs/*.json` hold the other protocols.
 */
/** The search driver's share of the machine's cores for each trial's decoding (ICCL_DECODE_WORKERS), else 0. */
export function decodeWorkersFromEnv(env: NodeJS.ProcessEnv = process.env): number {
  const v = env.ICCL_DECODE_WORKERS;
  if (v === undefined || v === '') return 0;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new Error(`ICCL_DECODE_WORKERS: got "${v}", expected a whole number of decoding threads (0: main thread)`);
  return n;
}

export const COMMON_PARAMS = {
  dataset: {
    type: 'categorical',
    default: 'synthetic',
    choices: ['synthetic', 'cifar10-lt', 'cifar100-lt', 'cifar-binary', 'image-folder', 'imagenet-lt', 'inat18'],
    description: 'data set kind (see @iccl/longtail loadDataset); synthetic needs no files',
  },
  dataDir: { type: 'string', default: '', description: 'root folder of the data on disk (unused by synthetic)' },
  imbalanceFactor: { type: 'float', default: 100, min: 1, description: 'n_max / n_min of the long-tailed training split (synthetic, cifar*-lt, image-folder)' },
  imageSize: { type: 'int', default: 0, min: 0, description: 'input side in pixels; 0 keeps the data set default (32 for CIFAR and synthetic, 224 otherwise)' },
  syntheticClasses: { type: 'int', default: 10, min: 2, max: 20, description: 'synthetic only: number of classes' },
  maxPerClass: { type: 'int', default: 0, min: 0, description: 'images of the largest class (0: data set default; synthetic 500)' },
  testPerClass: { type: 'int', default: 0, min: 0, description: 'synthetic only: balanced test images per class (0: default 100)' },
  valPerClass: {
    type: 'int',
    default: 0,
    min: 0,
    description:
      'validation images per class (0: the data set default): cifar10-lt 500 / cifar100-lt 20 taken from the training images the long-tail profile leaves out (the training set is unchanged), synthetic = testPerClass (generated), inat18 at most 3 held out of train2018',
  },
  valSplit: {
    type: 'float',
    default: 0.1,
    min: 0.001,
    max: 0.5,
    description:
      "fraction of each class's training images held out for validation where no validation images exist apart (image-folder without val/, cifar-binary at imbalanceFactor 1, inat18 under the valPerClass cap); imagenet-lt uses ImageNet_LT_val.txt",
  },
  manyThreshold: { type: 'int', default: 100, min: 0, description: 'Many-shot: classes with MORE training images than this (Kang et al.: 100)' },
  fewThreshold: { type: 'int', default: 20, min: 0, description: 'Few-shot: classes with FEWER training images than this (Kang et al.: 20)' },
  model: { type: 'categorical', default: 'resnet32', choices: MODEL_NAMES, description: 'network: CIFAR ResNet-(6n+2), resnet50, resnext50 (32x4d) or small-cnn' },
  width: { type: 'int', default: 16, min: 1, description: 'small-cnn only: channels of the first layer' },
  recompute: {
    type: 'bool',
    default: false,
    description:
      'ResNets only: recompute each residual stage in the backward pass (gradient checkpointing) instead of keeping its activations; trades ~1 extra forward pass for memory, for large inputs such as ResNet-50 at 224',
  },
  engine: {
    type: 'categorical',
    default: 'compiled',
    choices: ['eager', 'compiled'],
    description:
      "how a stage-1 step runs: 'eager', one TensorFlow call per op from JavaScript (the reference); 'compiled', the step traced once per batch shape and run as one libtensorflow graph, checked against the eager step when traced, and compiled by XLA on a GPU (every method of this project: CE, cRT's stage 1, mixup and ICCL, whose per-step draws are graph inputs; eager with one line saying why where it cannot run, e.g. recompute); protocols pin it",
  },
  precision: {
    type: 'categorical',
    default: 'fp32',
    choices: ['fp32', 'bf16'],
    description:
      "arithmetic of a stage-1 step: 'fp32' everywhere; 'bf16', convolutions and matrix products (forward and backward) in bfloat16 with float32 weights, momentum, batch norm and loss, through the compiled step only (refused with engine eager, on methods it cannot compile, and on CPUs without avx512_bf16 or amx_bf16)",
  },
  epochs: { type: 'int', default: 200, min: 1, description: 'stage-1 (representation) epochs' },
  batchSize: { type: 'int', default: 128, min: 2, description: 'images per step (per sampler for two-batch methods)' },
  lr: { type: 'float', default: 0.1, min: 0, log: false, description: 'stage-1 base learning rate (SGD)' },
  weightDecay: { type: 'float', default: 2e-4, min: 0, description: 'L2 weight decay added to every gradient, both stages (PyTorch SGD semantics)' },
  momentum: { type: 'float', default: 0.9, min: 0, max: 0.999, description: 'SGD momentum, both stages' },
  warmupEpochs: { type: 'float', default: 5, min: 0, description: 'linear learning-rate warm-up epochs of stage 1' },
  schedule: { type: 'categorical', default: 'step', choices: ['step', 'cosine'], description: 'stage-1 learning-rate schedule after warm-up' },
  lrSteps: {
    type: 'string',
    default: '',
    description: 'step schedule: "epoch:factor,..." absolute factors of lr; empty = x0.01 at 80% and x0.0001 at 90% of epochs (CIFAR-LT: 160, 180 of 200)',
  },
  crtEpochs: { type: 'int', default: 0, min: 0, description: 'stage-2 cRT epochs (frozen backbone, new classifier, class-balanced sampler, cosine); 0 skips stage 2' },
  crtLr: { type: 'float', default: 0.2, min: 0, description: 'stage-2 cRT base learning rate (Kang et al.: 0.2), cosine decay to 0' },
  evalEvery: { type: 'int', default: 10, min: 1, description: 'evaluate (and report to the pruner) every N epochs; the last epoch of each stage is always evaluated' },
  seed: { type: 'int', default: 0, min: 0, description: 'seeds initialisation, samplers, augmentation and mixing coefficients' },
  dataSeed: { type: 'int', default: 0, min: 0, description: 'seeds which images the long-tailed subset keeps (and the synthetic images)' },
  device: { type: 'categorical', default: 'auto', choices: ['auto', 'cpu', 'gpu', 'js'], description: 'TensorFlow device (see @iccl/tf-backend)' },
  objective: {
    type: 'categorical',
    default: 'top1',
    choices: ['top1', 'few', 'blend'],
    description: 'value returned as the objective: top-1, Few-shot accuracy, or (1 - objectiveFewWeight) * top1 + objectiveFewWeight * few',
  },
  objectiveFewWeight: { type: 'float', default: 0.5, min: 0, max: 1, description: 'weight of Few-shot accuracy in the "blend" objective' },
  workers: { type: 'int', default: decodeWorkersFromEnv(), min: 0, description: 'image decoding worker threads (0: main thread; default ICCL_DECODE_WORKERS, which the search driver sets per trial on GPUs, else 0)' },
  maxStepsPerEpoch: { type: 'int', default: 0, min: 0, description: 'cap on steps per epoch (0: a full pass); for smoke runs and benches' },
} satisfies ParamSchema;

export type CommonParams = ParamValues<typeof COMMON_PARAMS>;
