import { tfx, type Tensor2D, type Variable, type VariableStore } from '@iccl/longtail';

/**
 * K x d class centroids on the unit sphere. The host copy is the source of truth (updates are
 * sequential per sample, which is cheap on the host and exact); the device copy is refreshed after
 * each update for the next loss.
 */
export class CentroidBank {
  readonly values: Float32Array;
  readonly variable: Variable;
  private sums: Float64Array | null = null;
  private counts: Int32Array | null = null;

  constructor(
    store: VariableStore,
    readonly numClasses: number,
    readonly dim: number,
    seed: number,
  ) {
    const tf = tfx();
    this.values = new Float32Array(numClasses * dim);
    // Until the warm-up sets class means: random unit vectors (also kept for classes never seen).
    let s = seed >>> 0 || 1;
    for (let i = 0; i < this.values.length; i++) {
      s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
      this.values[i] = s / 4294967296 - 0.5;
    }
    for (let k = 0; k < numClasses; k++) normalizeRow(this.values, k, dim);
    this.variable = store.add('centroids', tf.tensor2d(this.values, [numClasses, dim]), 'state');
  }

  get tensor(): Tensor2D {
    return this.variable as Tensor2D;
  }

  /**
   * c_y <- normalize(m c_y + (1 - m) z_i) for each row i of `z` (n x d, row-major) with label y_i,
   * in order: two samples of one class in a step move it twice, as the per-sample rule says.
   */
  update(z: Float32Array, labels: Int32Array, momentum: number): void {
    const d = this.dim;
    const c = this.values;
    for (let i = 0; i < labels.length; i++) {
      const y = labels[i];
      const o = y * d;
      for (let j = 0; j < d; j++) c[o + j] = momentum * c[o + j] + (1 - momentum) * z[i * d + j];
      normalizeRow(c, y, d);
    }
    this.upload();
  }

  /** Starts accumulating exact class means (the warm-up pass). */
  beginMeans(): void {
    this.sums = new Float64Array(this.numClasses * this.dim);
    this.counts = new Int32Array(this.numClasses);
  }

  accumulate(z: Float32Array, labels: Int32Array): void {
    if (!this.sums || !this.counts) throw new Error('CentroidBank.accumulate before beginMeans');
    const d = this.dim;
    for (let i = 0; i < labels.length; i++) {
      const o = labels[i] * d;
      for (let j = 0; j < d; j++) this.sums[o + j] += z[i * d + j];
      this.counts[labels[i]]++;
    }
  }

  /** Sets each seen class's centroid to its normalised mean; returns how many classes were seen. */
  finishMeans(): number {
    if (!this.sums || !this.counts) throw new Error('CentroidBank.finishMeans before beginMeans');
    const d = this.dim;
    let seen = 0;
    for (let k = 0; k < this.numClasses; k++) {
      if (this.counts[k] === 0) continue;
      seen++;
      for (let j = 0; j < d; j++) this.values[k * d + j] = this.sums[k * d + j] / this.counts[k];
      normalizeRow(this.values, k, d);
    }
    this.sums = null;
    this.counts = null;
    this.upload();
    return seen;
  }

  get accumulating(): boolean {
    return this.sums !== null;
  }

  /** Re-reads the device copy into the host copy (after a checkpoint restored the variable). */
  syncFromDevice(): void {
    this.values.set(this.variable.dataSync() as Float32Array);
  }

  private upload(): void {
    const tf = tfx();
    tf.tidy(() => this.variable.assign(tf.tensor2d(this.values, [this.numClasses, this.dim])));
  }
}

function normalizeRow(a: Float32Array, k: number, d: number): void {
  let s = 0;
  for (let j = 0; j < d; j++) s += a[k * d + j] * a[k * d + j];
  const n = Math.sqrt(s);
  if (n < 1e-12) return;
  for (let j = 0; j < d; j++) a[k * d + j] /= n;
}
