import type { VariableStore } from './store';
import { Rng } from '../train/random';
import { fusedBatchNormTraining } from './fused-batch-norm';
import { nativeGroupedConv2d } from './grouped-conv';
import { useNativeGradients } from './native-grads';
import { tfx, type Tensor, type Tensor1D, type Tensor2D, type Tensor4D, type Variable } from './tf';

/**
 * One forward pass: whether it trains (batch statistics, running-stat updates) and the running-stat
 * updates it produced. Updates are applied after the gradient step (`commitUpdates`), outside the
 * gradient tape, so that they never receive gradients.
 */
export interface Pass {
  training: boolean;
  updates: { target: Variable; value: Tensor }[];
}

export function trainingPass(): Pass {
  useNativeGradients();
  return { training: true, updates: [] };
}
export function inferencePass(): Pass {
  return { training: false, updates: [] };
}

/** Writes the running statistics a training pass computed and frees them. */
export function commitUpdates(pass: Pass): void {
  for (const u of pass.updates) {
    u.target.assign(u.value);
    u.value.dispose();
  }
  pass.updates.length = 0;
}

/** Frees a pass's pending updates without applying them (a step that was abandoned). */
export function discardUpdates(pass: Pass): void {
  for (const u of pass.updates) u.value.dispose();
  pass.updates.length = 0;
}

/**
 * N(0, std^2) draws from a seeded generator + Box-Muller. tfjs's seeded randomNormal runs a slow
 * JavaScript generator (over a minute for ResNet-50's 25M weights); this one takes well under a second.
 */
export function normalTensor(shape: number[], std: number, seed: number): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const out = new Float32Array(n);
  const rng = new Rng(seed);
  for (let i = 0; i < n; i += 2) {
    const u = 1 - rng.next();
    const r = Math.sqrt(-2 * Math.log(u)) * std;
    const t = 2 * Math.PI * rng.next();
    out[i] = r * Math.cos(t);
    if (i + 1 < n) out[i + 1] = r * Math.sin(t);
  }
  return tfx().tensor(out, shape, 'float32');
}

/** U(-bound, bound) draws, seeded. */
export function uniformTensor(shape: number[], bound: number, seed: number): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const out = new Float32Array(n);
  const rng = new Rng(seed);
  for (let i = 0; i < n; i++) out[i] = (2 * rng.next() - 1) * bound;
  return tfx().tensor(out, shape, 'float32');
}

/** Seeds for initialisers: one integer per variable, from a deterministic counter. */
export class InitSeeds {
  private n = 0;
  /** `structureOnly`: all-zero weights, for inspecting shapes and counts without paying for the draws */
  constructor(
    private readonly seed: number,
    readonly structureOnly = false,
  ) {}
  next(): number {
    this.n += 1;
    return (this.seed * 1000003 + this.n * 7919) % 2147483647;
  }
  normal(shape: number[], std: number): Tensor {
    const seed = this.next();
    return this.structureOnly ? tfx().zeros(shape) : normalTensor(shape, std, seed);
  }
  uniform(shape: number[], bound: number): Tensor {
    const seed = this.next();
    return this.structureOnly ? tfx().zeros(shape) : uniformTensor(shape, bound, seed);
  }
}

export type FanMode = 'fan_in' | 'fan_out';

export class Conv2d {
  readonly kernel: Variable;
  constructor(
    store: VariableStore,
    seeds: InitSeeds,
    readonly inChannels: number,
    readonly outChannels: number,
    readonly size: number,
    readonly stride = 1,
    fan: FanMode = 'fan_out',
  ) {
    // Kaiming (He) normal for a ReLU network: std = sqrt(2 / fan).
    const fanN = size * size * (fan === 'fan_in' ? inChannels : outChannels);
    this.kernel = store.add(
      'kernel',
      seeds.normal([size, size, inChannels, outChannels], Math.sqrt(2 / fanN)),
      'weight',
    );
  }

  apply(x: Tensor4D): Tensor4D {
    return tfx().conv2d(x, this.kernel as Tensor4D, this.stride, 'same');
  }
}

/**
 * Grouped convolution (ResNeXt), kernel [k, k, in/groups, out] as in TensorFlow. On the native
 * backend one grouped Conv2D (see grouped-conv.ts); elsewhere tfjs has no `groups` argument, so the
 * channels are split, convolved per group and concatenated (same result, slower).
 */
export class GroupedConv2d {
  readonly kernel: Variable;
  constructor(
    store: VariableStore,
    seeds: InitSeeds,
    readonly inChannels: number,
    readonly outChannels: number,
    readonly size: number,
    readonly stride: number,
    readonly groups: number,
    /** one native grouped Conv2D when available (false: split / convolve / concatenate in tfjs) */
    readonly native = true,
  ) {
    if (inChannels % groups !== 0 || outChannels % groups !== 0) {
      throw new Error(`grouped conv: channels ${inChannels}->${outChannels} not divisible by groups ${groups}`);
    }
    const fanN = size * size * (outChannels / groups);
    this.kernel = store.add(
      'kernel',
      seeds.normal([size, size, inChannels / groups, outChannels], Math.sqrt(2 / fanN)),
      'weight',
    );
  }

  apply(x: Tensor4D): Tensor4D {
    const tf = tfx();
    if (this.groups === 1) return tf.conv2d(x, this.kernel as Tensor4D, this.stride, 'same');
    if (this.native) {
      const y = nativeGroupedConv2d(x, this.kernel as Tensor4D, this.stride);
      if (y) return y;
    }
    const xs = tf.split(x, this.groups, 3);
    const ks = tf.split(this.kernel as Tensor4D, this.groups, 3);
    const ys = xs.map((xi, i) => tf.conv2d(xi as Tensor4D, ks[i] as Tensor4D, this.stride, 'same'));
    return tf.concat(ys, 3) as Tensor4D;
  }
}

/**
 * Batch normalisation with PyTorch's semantics: training normalises with the batch's mean and biased
 * variance and moves the running mean and *unbiased* variance by `momentum` (0.1); inference uses the
 * running statistics.
 */
export class BatchNorm {
  readonly gamma: Variable;
  readonly beta: Variable;
  readonly runningMean: Variable;
  readonly runningVar: Variable;
  constructor(
    store: VariableStore,
    readonly channels: number,
    readonly momentum = 0.1,
    readonly epsilon = 1e-5,
    zeroGamma = false,
    /** use the native fused kernel when available (false: tfjs's composite, e.g. to cross-check) */
    readonly fused = true,
  ) {
    const tf = tfx();
    this.gamma = store.add('gamma', zeroGamma ? tf.zeros([channels]) : tf.ones([channels]), 'norm');
    this.beta = store.add('beta', tf.zeros([channels]), 'norm');
    this.runningMean = store.add('running_mean', tf.zeros([channels]), 'state');
    this.runningVar = store.add('running_var', tf.ones([channels]), 'state');
  }

  apply(x: Tensor4D, pass: Pass): Tensor4D {
    const tf = tfx();
    if (!pass.training) {
      return tf.batchNorm(x, this.runningMean, this.runningVar, this.beta, this.gamma, this.epsilon) as Tensor4D;
    }
    const m = this.momentum;
    const fused = this.fused && x.rank === 4 ? fusedBatchNormTraining(x, this.gamma as Tensor1D, this.beta as Tensor1D, this.epsilon) : null;
    if (fused) {
      // The fused op reports the Bessel-corrected variance already.
      pass.updates.push({ target: this.runningMean, value: tf.keep(tf.tidy(() => tf.add(tf.mul(this.runningMean, 1 - m), tf.mul(fused.mean, m)))) });
      pass.updates.push({ target: this.runningVar, value: tf.keep(tf.tidy(() => tf.add(tf.mul(this.runningVar, 1 - m), tf.mul(fused.variance, m)))) });
      fused.mean.dispose();
      fused.variance.dispose();
      return fused.y;
    }
    const axes = x.rank === 4 ? [0, 1, 2] : [0];
    const { mean, variance } = tf.moments(x, axes);
    const n = x.size / this.channels;
    // The update is not part of the loss, so no gradient flows through it.
    pass.updates.push({
      target: this.runningMean,
      value: tf.keep(tf.tidy(() => tf.add(tf.mul(this.runningMean, 1 - m), tf.mul(mean, m)))),
    });
    pass.updates.push({
      target: this.runningVar,
      value: tf.keep(tf.tidy(() => tf.add(tf.mul(this.runningVar, 1 - m), tf.mul(variance, (m * n) / Math.max(1, n - 1))))),
    });
    return tf.batchNorm(x, mean, variance, this.beta, this.gamma, this.epsilon) as Tensor4D;
  }
}

/**
 * a + b for two tensors of one shape, whose gradient is dy for both: nothing is kept for the
 * backward pass (tfjs's Add keeps both inputs, only to read their shapes for broadcasting).
 */
export function addSameShape<T extends Tensor>(a: T, b: T): T {
  const tf = tfx();
  if (a.shape.length !== b.shape.length || a.shape.some((d, i) => d !== b.shape[i])) {
    throw new Error(`addSameShape: shapes differ (${a.shape} vs ${b.shape})`);
  }
  const op = tf.customGrad(((x: Tensor, y: Tensor) => ({
    value: tf.add(x, y),
    gradFunc: (dy: Tensor) => [dy.clone(), dy.clone()],
  })) as unknown as Parameters<typeof tf.customGrad>[0]);
  return op(a, b) as T;
}

/** Fully connected layer: y = x W + b. Weight Kaiming-normal on fan-in by default, bias zero. */
export class Linear {
  readonly weight: Variable;
  readonly bias: Variable | null;
  constructor(
    store: VariableStore,
    seeds: InitSeeds,
    readonly inFeatures: number,
    readonly outFeatures: number,
    withBias = true,
    init: 'kaiming' | 'uniform' = 'kaiming',
  ) {
    const tf = tfx();
    const w =
      init === 'kaiming'
        ? seeds.normal([inFeatures, outFeatures], Math.sqrt(2 / inFeatures))
        : // PyTorch's nn.Linear default: U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
          seeds.uniform([inFeatures, outFeatures], 1 / Math.sqrt(inFeatures));
    this.weight = store.add('kernel', w, 'weight');
    this.bias = withBias ? store.add('bias', tf.zeros([outFeatures]), 'bias') : null;
  }

  apply(x: Tensor2D): Tensor2D {
    const tf = tfx();
    const y = tf.matMul(x, this.weight as Tensor2D) as Tensor2D;
    return this.bias ? (tf.add(y, this.bias) as Tensor2D) : y;
  }

  /** Draws fresh weights and zero bias (cRT re-initialises the classifier). */
  reset(seed: number, init: 'kaiming' | 'uniform' = 'kaiming'): void {
    const tf = tfx();
    tf.tidy(() => {
      const [i, o] = this.weight.shape as [number, number];
      this.weight.assign(
        init === 'kaiming'
          ? normalTensor([i, o], Math.sqrt(2 / i), seed)
          : uniformTensor([i, o], 1 / Math.sqrt(i), seed),
      );
      if (this.bias) this.bias.assign(tf.zerosLike(this.bias));
    });
  }
}
