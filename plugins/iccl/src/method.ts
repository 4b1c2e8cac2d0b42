import {
  ProjectionHead,
  VariableStore,
  crossEntropy,
  inferencePass,
  interpolate,
  makeLoader,
  makeSampler,
  mixedTargets,
  sampleLambdas,
  seedFrom,
  softCrossEntropy,
  tfx,
  type DataSplit,
  type DeviceBatch,
  type MethodLoss,
  type Network,
  type Pass,
  type Scalar,
  type Stage1Method,
  type StepInfo,
  type Tensor,
  type Tensor1D,
  type Tensor2D,
  type Tensor4D,
} from '@iccl/longtail';
import { CentroidBank } from './centroids';
import { IccDiagnostics } from './diagnostics';
import { iccLoss } from './loss';

export interface IcclOptions {
  alpha: number;
  tau: number;
  centroidMomentum: number;
  samplerRatio: number;
  wIcc: number;
  wCe: number;
  wMix: number;
  projDim: number;
  iccWarmupEpochs: number;
  centroidSource: 'agnostic' | 'both';
  lambdaPerBatch: boolean;
  /** how centroids follow the embeddings (default 'ema'); see ICCL_PARAMS.centroidUpdate */
  centroidUpdate?: 'ema' | 'epoch-means';
  seed: number;
  batchSize: number;
  workers: number;
}

/**
 * ICCL stage 1 (ICCL.md): batch A from the class-agnostic (instance) sampler, batch B from the
 * class-aware sampler; x~ = lam x_a + (1 - lam) x_b; loss w_ce CE(A) + w_mix mixed CE(x~) + w_icc L_icc.
 * A, x~ (and B when centroids come from both batches) go through the network as ONE batch (ours:
 * batch norm sees all of them together, and it is one forward pass instead of two).
 */
export class IcclMethod implements Stage1Method {
  readonly name = 'iccl';
  readonly primarySampler = 'instance' as const;
  readonly secondSampler: { kind: 'class-aware'; samplerRatio: number };
  readonly store = new VariableStore();
  readonly head: ProjectionHead;
  readonly centroids: CentroidBank;
  /** Traced as one graph by the compiled step: lambdas are drawStep's, the ICC term's presence is the phase. */
  readonly traceable = true;
  /** centroids hold class means and the ICC loss may run */
  private ready = false;
  /** this step's host-side values for afterStep: the samples that move the centroids, and the mixing */
  private drawn: { labels: Int32Array; ya: Int32Array; yb: Int32Array; lam: Float32Array } | null = null;
  private readonly numClasses: number;
  private readonly diagnostics: IccDiagnostics;

  constructor(
    net: Network,
    private readonly data: DataSplit | null,
    private readonly o: IcclOptions,
  ) {
    this.numClasses = net.numClasses;
    this.secondSampler = { kind: 'class-aware', samplerRatio: o.samplerRatio };
    this.head = new ProjectionHead(this.store.scope('proj'), net.featureDim, o.projDim, seedFrom(o.seed, 21));
    this.centroids = new CentroidBank(this.store, net.numClasses, o.projDim, seedFrom(o.seed, 22));
    this.diagnostics = new IccDiagnostics(net.numClasses);
  }

  private get epochMeans(): boolean {
    return this.o.centroidUpdate === 'epoch-means';
  }

  private active(epoch: number): boolean {
    return this.ready && epoch >= this.o.iccWarmupEpochs && this.o.wIcc > 0;
  }

  async beforeEpoch(epoch: number, net: Network): Promise<void> {
    // The ICC loss starts at epoch iccWarmupEpochs, with centroids set to exact class means.
    if (!this.ready && epoch >= this.o.iccWarmupEpochs && this.o.wIcc > 0) await this.meansByPass(net);
    if (this.active(epoch)) {
      this.diagnostics.snapshot(this.centroids.values);
      // Ablation: centroids fixed for the epoch, then set to the class means of its embeddings.
      if (this.epochMeans) this.centroids.beginMeans();
    }
  }

  afterEpoch(): void {
    if (this.epochMeans && this.centroids.accumulating) this.centroids.finishMeans();
  }

  epochMetrics(_epoch: number, train: Record<string, number>): Record<string, number> {
    return this.diagnostics.finish(this.centroids.values, this.o.projDim, train['train/loss_icc']);
  }

  /**
   * Centroids = normalised class means of the embeddings of every training image, one inference pass
   * (no augmentation, running batch-norm statistics) with the network as it is at the end of warm-up.
   */
  private async meansByPass(net: Network): Promise<void> {
    const tf = tfx();
    if (!this.data) throw new Error('ICCL needs the data split to compute the initial centroids');
    const ds = this.data.train;
    const sampler = makeSampler('instance', ds.labels, ds.numClasses, { seed: this.o.seed });
    this.centroids.beginMeans();
    for await (const b of makeLoader(ds, sampler, { batchSize: this.o.batchSize, epoch: 0, train: false, seed: this.o.seed, workers: this.o.workers })) {
      if (b.n === 0) continue;
      const z = tf.tidy(() => this.head.apply(net.features(tf.tensor4d(b.x, [b.n, ...b.shape]) as Tensor4D, inferencePass())));
      this.centroids.accumulate((await z.data()) as Float32Array, b.y.subarray(0, b.n));
      z.dispose();
    }
    this.centroids.finishMeans();
    this.ready = true;
  }

  phase(info: StepInfo): string {
    return this.active(info.epoch) ? 'icc' : 'no-icc';
  }

  /** The lambdas of this step (a device tensor for the loss) and the host labels afterStep needs. */
  drawStep(a: DeviceBatch, b: DeviceBatch | null, info: StepInfo): Record<string, Tensor> {
    if (!b) throw new Error('ICCL needs the class-aware batch');
    const m = Math.min(a.n, b.n);
    const lam = sampleLambdas(info.rng, m, this.o.alpha, this.o.lambdaPerBatch);
    const labels = this.o.centroidSource === 'both' ? concatLabels(a.labels, b.labels) : a.labels;
    this.drawn = { labels, ya: a.labels.slice(0, m), yb: b.labels.slice(0, m), lam };
    return { lam: tfx().tensor1d(lam) };
  }

  loss(net: Network, a: DeviceBatch, b: DeviceBatch | null, pass: Pass, info: StepInfo, draws?: Record<string, Tensor>): MethodLoss {
    if (!b) throw new Error('ICCL needs the class-aware batch');
    const tf = tfx();
    const m = Math.min(a.n, b.n);
    const lam = (draws ?? this.drawStep(a, b, info)).lam as Tensor1D;
    const xa = m === a.n ? a.x : (tf.slice(a.x, 0, m) as Tensor4D);
    const xb = m === b.n ? b.x : (tf.slice(b.x, 0, m) as Tensor4D);
    const ya = tf.slice(a.y, 0, m) as Tensor1D;
    const yb = tf.slice(b.y, 0, m) as Tensor1D;
    const xMix = interpolate(xa, xb, lam);
    const both = this.o.centroidSource === 'both';
    const h = net.features(tf.concat(both ? [a.x, xMix, b.x] : [a.x, xMix], 0) as Tensor4D, pass);
    const hA = tf.slice(h, [0, 0], [a.n, -1]) as Tensor2D;
    const hM = tf.slice(h, [a.n, 0], [m, -1]) as Tensor2D;
    const terms: Record<string, Scalar> = {};
    let after: Record<string, Tensor> | undefined;
    let total = tf.scalar(0) as Scalar;
    if (this.o.wCe > 0) {
      terms.ce = crossEntropy(net.classifier.apply(hA), a.y, this.numClasses);
      total = tf.add(total, tf.mul(terms.ce, this.o.wCe)) as Scalar;
    }
    const targets = mixedTargets(ya, yb, lam, this.numClasses);
    if (this.o.wMix > 0) {
      terms.mix = softCrossEntropy(net.classifier.apply(hM), targets);
      total = tf.add(total, tf.mul(terms.mix, this.o.wMix)) as Scalar;
    }
    const epoch = info.epoch;
    if (this.active(epoch)) {
      const z = this.head.apply(h);
      const zM = tf.slice(z, [a.n, 0], [m, -1]) as Tensor2D;
      terms.icc = iccLoss(zM, this.centroids.tensor, ya, yb, lam, this.o.tau);
      total = tf.add(total, tf.mul(terms.icc, this.o.wIcc)) as Scalar;
      // Non-interpolated embeddings, read after the step to move the centroids (a stop-gradient:
      // they are plain numbers by then).
      const zA = tf.slice(z, [0, 0], [a.n, -1]);
      after = { z: both ? tf.concat([zA, tf.slice(z, [a.n + m, 0], [b.n, -1])], 0) : zA, zMix: zM };
    }
    // Warm-up with both classification weights at 0: nothing to learn yet, but the tape needs a path
    // from the variables to the loss (a zero gradient; weight decay still applies).
    if (Object.keys(terms).length === 0) total = tf.mul(tf.sum(h), 0) as Scalar;
    return { total, terms, after };
  }

  /** `after`: the loss's embeddings (the step frees them); nothing to do in a step without the ICC term. */
  afterStep(info: StepInfo, after?: Record<string, Tensor>): void {
    const drawn = this.drawn;
    this.drawn = null;
    if (!after?.z || !drawn || !this.active(info.epoch)) return;
    const { labels, ya, yb, lam } = drawn;
    const z = after.z.dataSync() as Float32Array;
    // Retrieval against the centroids the loss just used (before they move).
    this.diagnostics.addBatch(after.zMix.dataSync() as Float32Array, this.centroids.values, this.o.projDim, ya, yb, lam);
    if (this.epochMeans) this.centroids.accumulate(z, labels);
    else this.centroids.update(z, labels, this.o.centroidMomentum);
  }

  state(): Record<string, unknown> {
    return { ready: this.ready };
  }

  loadState(state: Record<string, unknown>): void {
    this.ready = state.ready === true;
    this.centroids.syncFromDevice();
  }

  dispose(): void {
    this.drawn = null;
    this.store.dispose();
  }
}

function concatLabels(a: Int32Array, b: Int32Array): Int32Array {
  const out = new Int32Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}
