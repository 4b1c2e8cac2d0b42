import type { Distribution } from '../../study/distributions';
import type { Rng } from '../../study/rng';
import { snapToGrid } from '../unit-transform';
import { logGaussMass, sampleTruncNorm, truncNormLogPdf } from './truncnorm';

export interface ParzenEstimatorParameters {
  /** Weight of the prior kernel (one broad kernel over the whole range) relative to an observation. */
  priorWeight: number;
  /** Floor each bandwidth at range / min(100, 1 + kernels) so a cluster of points cannot collapse it. */
  considerMagicClip: boolean;
  /** Let the range ends count as neighbours when sizing the outermost kernels' bandwidths. */
  considerEndpoints: boolean;
  /** Weights of the n observations (in trial-number order). */
  weights: (n: number) => number[];
}

/** One numerical dimension: a kernel per observation plus the prior, in (log-)transformed units. */
interface NumericalDim {
  kind: 'numerical';
  mus: Float64Array;
  sigmas: Float64Array;
  /** Bounds in transformed units (widened by half a step for stepped ranges). */
  low: number;
  high: number;
  log: boolean;
  step: number | null;
  /** Per kernel: log of its normal's mass inside [low, high] (the truncation normaliser). */
  logMass: Float64Array;
  /** Per kernel: 1 / sigma, and the log-density constant -log(sqrt(2 pi) sigma) - logMass. */
  invSigmas: Float64Array;
  logNorm: Float64Array;
  distribution: Distribution;
}

interface CategoricalDim {
  kind: 'categorical';
  /** Per kernel, per choice. */
  probs: Float64Array[];
  logProbs: Float64Array[];
}

type Dim = NumericalDim | CategoricalDim;

/**
 * TPE's density model: a mixture of product kernels, one per observation plus a prior kernel.
 * Numerical dimensions use truncated normals (discretised for int/step ranges, in log space for
 * log ranges), with bandwidths from the distance to neighbouring observations; categorical
 * dimensions put extra mass on the observed choice over a smoothed uniform.
 */
export class ParzenEstimator {
  private readonly names: string[];
  private readonly dims: Dim[];
  readonly weights: Float64Array;
  private readonly logWeights: Float64Array;

  constructor(
    observations: Record<string, number[]>,
    searchSpace: Record<string, Distribution>,
    params: ParzenEstimatorParameters,
    predeterminedWeights?: number[],
  ) {
    if (!(params.priorWeight >= 0)) throw new Error(`TPE: priorWeight must be >= 0, got ${params.priorWeight}`);
    this.names = Object.keys(searchSpace);
    const n = this.names.length ? observations[this.names[0]].length : 0;
    let w: number[];
    if (n === 0) w = [1];
    else {
      const obsW = predeterminedWeights ?? checkWeights(params.weights(n).slice(0, n), n);
      w = [...obsW, params.priorWeight];
    }
    const total = w.reduce((s, x) => s + x, 0);
    this.weights = Float64Array.from(w, (x) => x / total);
    this.logWeights = Float64Array.from(this.weights, Math.log);
    this.dims = this.names.map((name) => buildDim(observations[name], searchSpace[name], params));
  }

  get nKernels(): number {
    return this.weights.length;
  }

  /** `size` draws (internal values) from the mixture. */
  sample(rng: Rng, size: number): Record<string, number[]> {
    const out: Record<string, number[]> = {};
    for (const name of this.names) out[name] = new Array<number>(size);
    for (let s = 0; s < size; s++) {
      const k = rng.choiceWeighted(this.weights);
      for (let i = 0; i < this.dims.length; i++) {
        const d = this.dims[i];
        let v: number;
        if (d.kind === 'categorical') v = rng.choiceWeighted(d.probs[k]);
        else {
          v = sampleTruncNorm(rng, d.mus[k], d.sigmas[k], d.low, d.high);
          if (d.log) v = Math.exp(v);
          v = snapToGrid(d.distribution, v);
        }
        out[this.names[i]][s] = v;
      }
    }
    return out;
  }

  /** Log density of each sample (internal values; discrete dimensions as probability masses). */
  logPdf(samples: Record<string, number[]>): number[] {
    const size = samples[this.names[0]]?.length ?? 0;
    const K = this.weights.length;
    const acc = new Float64Array(size * K);
    for (let s = 0; s < size; s++) acc.set(this.logWeights, s * K);
    for (let i = 0; i < this.dims.length; i++) {
      const d = this.dims[i];
      const xs = samples[this.names[i]];
      if (d.kind === 'categorical') {
        for (let s = 0; s < size; s++) {
          const c = Math.round(xs[s]);
          for (let k = 0; k < K; k++) acc[s * K + k] += d.logProbs[k][c];
        }
      } else if (d.step === null) {
        // The hot loop of TPE (candidates x kernels x dimensions): truncNormLogPdf inlined.
        const { mus, invSigmas, logNorm } = d;
        for (let s = 0; s < size; s++) {
          const x = d.log ? Math.log(xs[s]) : xs[s];
          const base = s * K;
          for (let k = 0; k < K; k++) {
            const z = (x - mus[k]) * invSigmas[k];
            acc[base + k] += logNorm[k] - 0.5 * z * z;
          }
        }
      } else {
        // Mass of the grid cell [x - step/2, x + step/2]; identical x values (common for ints) share the work.
        const cache = new Map<number, Float64Array>();
        for (let s = 0; s < size; s++) {
          let row = cache.get(xs[s]);
          if (!row) {
            row = new Float64Array(K);
            const left = d.log ? Math.log(xs[s] - d.step / 2) : xs[s] - d.step / 2;
            const right = d.log ? Math.log(xs[s] + d.step / 2) : xs[s] + d.step / 2;
            for (let k = 0; k < K; k++) {
              row[k] = logGaussMass((left - d.mus[k]) / d.sigmas[k], (right - d.mus[k]) / d.sigmas[k]) - d.logMass[k];
            }
            cache.set(xs[s], row);
          }
          for (let k = 0; k < K; k++) acc[s * K + k] += row[k];
        }
      }
    }
    const out = new Array<number>(size);
    for (let s = 0; s < size; s++) {
      let max = -Infinity;
      for (let k = 0; k < K; k++) if (acc[s * K + k] > max) max = acc[s * K + k];
      if (max === -Infinity) {
        out[s] = -Infinity;
        continue;
      }
      let sum = 0;
      for (let k = 0; k < K; k++) sum += Math.exp(acc[s * K + k] - max);
      out[s] = Math.log(sum) + max;
    }
    return out;
  }
}

function checkWeights(w: number[], n: number): number[] {
  if (w.length !== n) throw new Error(`TPE: the weights function returned ${w.length} weights for ${n} observations`);
  if (w.some((x) => !(x >= 0) || !Number.isFinite(x))) throw new Error(`TPE: weights must be finite and >= 0, got ${JSON.stringify(w)}`);
  if (n > 0 && w.reduce((s, x) => s + x, 0) <= 0) throw new Error('TPE: the weights function returned all zeros');
  return w;
}

function buildDim(obs: number[], d: Distribution, params: ParzenEstimatorParameters): Dim {
  if (d.kind === 'categorical') return buildCategorical(obs, d.choices.length, params.priorWeight);
  let low = d.low;
  let high = d.high;
  if (d.step !== null) {
    low -= d.step / 2;
    high += d.step / 2;
  }
  const mus0 = d.log ? obs.map(Math.log) : [...obs];
  if (d.log) {
    low = Math.log(low);
    high = Math.log(high);
  }
  const sigmas0 = bandwidths(mus0, low, high, params);
  const mus = Float64Array.from([...mus0, 0.5 * (low + high)]);
  const sigmas = Float64Array.from([...sigmas0, high - low]);
  const K = mus.length;
  const logMass = new Float64Array(K);
  const invSigmas = new Float64Array(K);
  const logNorm = new Float64Array(K);
  for (let k = 0; k < K; k++) {
    logMass[k] = logGaussMass((low - mus[k]) / sigmas[k], (high - mus[k]) / sigmas[k]);
    invSigmas[k] = 1 / sigmas[k];
    // Equals truncNormLogPdf(x, mu, sigma, logMass) + z^2/2.
    logNorm[k] = truncNormLogPdf(mus[k], mus[k], sigmas[k], logMass[k]);
  }
  return { kind: 'numerical', mus, sigmas, low, high, log: d.log, step: d.step, logMass, invSigmas, logNorm, distribution: d };
}

/**
 * Each kernel's bandwidth is the larger gap to its sorted neighbours (range ends included as
 * neighbours); without considerEndpoints the outermost kernels use their inner gap instead.
 */
export function bandwidths(mus: number[], low: number, high: number, params: Pick<ParzenEstimatorParameters, 'considerEndpoints' | 'considerMagicClip'>): number[] {
  const n = mus.length;
  if (n === 0) return [];
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => mus[a] - mus[b]);
  const ext = new Float64Array(n + 2);
  ext[0] = low;
  for (let j = 0; j < n; j++) ext[j + 1] = mus[order[j]];
  ext[n + 1] = high;
  const sorted = new Array<number>(n);
  for (let j = 0; j < n; j++) sorted[j] = Math.max(ext[j + 1] - ext[j], ext[j + 2] - ext[j + 1]);
  if (!params.considerEndpoints && ext.length >= 4) {
    sorted[0] = ext[2] - ext[1];
    sorted[n - 1] = ext[n] - ext[n - 1];
  }
  const maxSigma = high - low;
  const minSigma = params.considerMagicClip ? (high - low) / Math.min(100, 1 + (n + 1)) : 1e-12;
  const out = new Array<number>(n);
  for (let j = 0; j < n; j++) out[order[j]] = Math.min(maxSigma, Math.max(minSigma, sorted[j]));
  return out;
}

function buildCategorical(obs: number[], nChoices: number, priorWeight: number): CategoricalDim {
  const probs: Float64Array[] = [];
  if (obs.length === 0) {
    probs.push(new Float64Array(nChoices).fill(1 / nChoices));
  } else {
    const nKernels = obs.length + 1;
    for (let k = 0; k < nKernels; k++) {
      const row = new Float64Array(nChoices).fill(priorWeight / nKernels);
      if (k < obs.length) row[Math.round(obs[k])] += 1;
      const sum = row.reduce((s, x) => s + x, 0);
      if (sum > 0) for (let c = 0; c < nChoices; c++) row[c] /= sum;
      probs.push(row);
    }
  }
  return { kind: 'categorical', probs, logProbs: probs.map((r) => Float64Array.from(r, Math.log)) };
}
