/**
 * Per-epoch diagnostics of the ICC loss (host-side, no tape): how often an interpolated image's two
 * nearest centroids are its two source classes, the loss against its chance level log K, and how far
 * the centroids move in an epoch.
 */

/** Indices of the two largest of `s` (first occurrence wins a tie). */
function topTwo(s: Float64Array): [number, number] {
  let i1 = -1;
  let i2 = -1;
  for (let k = 0; k < s.length; k++) {
    if (i1 < 0 || s[k] > s[i1]) {
      i2 = i1;
      i1 = k;
    } else if (i2 < 0 || s[k] > s[i2]) i2 = k;
  }
  return [i1, i2];
}

/**
 * Hits of the retrieval test for `n` interpolated embeddings `z` (n x d, row-major) against the K x d
 * `centroids`: by dot product (the ICC loss's similarity), sample i is a hit when its two nearest
 * centroids are {ya_i, yb_i}. When both sources share a class (ya_i = yb_i) there is one source class
 * and the test is that its centroid is the nearest one. Returns the number of hits.
 */
export function retrievalHits(z: Float32Array, centroids: Float32Array, dim: number, ya: ArrayLike<number>, yb: ArrayLike<number>): number {
  const n = ya.length;
  const K = centroids.length / dim;
  if (!Number.isInteger(K) || K < 2) throw new RangeError(`centroids have ${centroids.length} values: expected K x ${dim} with K >= 2`);
  if (z.length !== n * dim) throw new RangeError(`z has ${z.length} values: expected ${n} x ${dim}`);
  if (yb.length !== n) throw new RangeError(`yb has ${yb.length} labels: expected ${n} (as ya)`);
  const s = new Float64Array(K);
  let hits = 0;
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < K; k++) {
      let dot = 0;
      for (let j = 0; j < dim; j++) dot += z[i * dim + j] * centroids[k * dim + j];
      s[k] = dot;
    }
    const [c1, c2] = topTwo(s);
    const a = ya[i];
    const b = yb[i];
    if (a === b ? c1 === a : (c1 === a && c2 === b) || (c1 === b && c2 === a)) hits++;
  }
  return hits;
}

/**
 * The lowest value the ICC loss can take on these samples: its targets are soft (lam on ya, 1 - lam on
 * yb), so even a perfect softmax pays their entropy H(lam) = -lam ln lam - (1 - lam) ln(1 - lam); a
 * sample whose sources share a class has a one-hot target and floor 0. Returns the sum over samples.
 */
export function iccFloorSum(lam: ArrayLike<number>, ya: ArrayLike<number>, yb: ArrayLike<number>): number {
  const xlx = (x: number) => (x > 0 ? x * Math.log(x) : 0);
  let s = 0;
  for (let i = 0; i < lam.length; i++) if (ya[i] !== yb[i]) s -= xlx(lam[i]) + xlx(1 - lam[i]);
  return s;
}

/** Mean over classes of the Euclidean distance each centroid moved between two snapshots (K x d). */
export function centroidShift(before: Float32Array, after: Float32Array, dim: number): number {
  if (before.length !== after.length || before.length % dim !== 0) {
    throw new RangeError(`centroid snapshots have ${before.length} and ${after.length} values: expected equal multiples of ${dim}`);
  }
  const K = before.length / dim;
  let sum = 0;
  for (let k = 0; k < K; k++) {
    let s = 0;
    for (let j = 0; j < dim; j++) {
      const e = after[k * dim + j] - before[k * dim + j];
      s += e * e;
    }
    sum += Math.sqrt(s);
  }
  return sum / K;
}

/** Accumulates one epoch's diagnostics. */
export class IccDiagnostics {
  private hits = 0;
  private seen = 0;
  private floor = 0;
  private start: Float32Array | null = null;

  constructor(private readonly numClasses: number) {}

  /** Marks the centroids at the start of the measured span (epoch start, or right after the warm-up means). */
  snapshot(centroids: Float32Array): void {
    this.start = Float32Array.from(centroids);
  }

  addBatch(z: Float32Array, centroids: Float32Array, dim: number, ya: ArrayLike<number>, yb: ArrayLike<number>, lam?: ArrayLike<number>): void {
    this.hits += retrievalHits(z, centroids, dim, ya, yb);
    this.seen += ya.length;
    if (lam) this.floor += iccFloorSum(lam, ya, yb);
  }

  /**
   * The epoch's metrics (empty when the ICC loss did not run): train/icc_retrieval, train/centroid_shift,
   * train/loss_icc_over_logk (from the loop's epoch mean of the ICC term, `iccLoss`) and
   * train/loss_icc_floor (the mean entropy floor of the epoch's targets, see iccFloorSum); then resets.
   */
  finish(centroids: Float32Array, dim: number, iccLoss: number | undefined): Record<string, number> {
    const out: Record<string, number> = {};
    if (this.seen > 0) out['train/icc_retrieval'] = this.hits / this.seen;
    if (this.start && this.seen > 0) out['train/centroid_shift'] = centroidShift(this.start, centroids, dim);
    if (iccLoss !== undefined && Number.isFinite(iccLoss)) out['train/loss_icc_over_logk'] = iccLoss / Math.log(this.numClasses);
    if (this.seen > 0) out['train/loss_icc_floor'] = this.floor / this.seen;
    this.hits = 0;
    this.seen = 0;
    this.floor = 0;
    this.start = null;
    return out;
  }
}
