import { rngFor } from '../data/rng';
import { itemsByClass, type Sampler } from './sampler';

// A module-local binding: looking up the global `Math` is very slow inside jest's VM context, and these
// functions run per pixel / per draw.
const Math = globalThis.Math;

/**
 * Square-root sampling (Mahajan et al.; Kang et al.'s "progressive" family with q = 1/2): each draw picks
 * class c with probability sqrt(n_c) / sum_k sqrt(n_k), then an image of c uniformly; i.i.d. draws with
 * replacement. epochLength defaults to the data-set size.
 */
export function sqrtSampler(labels: Int32Array, numClasses: number, seed: number, epochLength = labels.length): Sampler {
  const byClass = itemsByClass(labels, numClasses);
  const w = byClass.map((items) => Math.sqrt(items.length));
  const total = w.reduce((a, b) => a + b, 0);
  if (total === 0) throw new Error('sqrt sampler: no labelled items: expected at least one');
  const freq = w.map((v) => v / total);
  const cdf = cumulative(freq);
  return {
    kind: 'sqrt',
    epochLength,
    indices(epoch: number): Int32Array {
      const rng = rngFor(seed, 0x5a27, epoch);
      const out = new Int32Array(epochLength);
      for (let k = 0; k < epochLength; k++) {
        const items = byClass[pick(cdf, rng())];
        out[k] = items[Math.floor(rng() * items.length)];
      }
      return out;
    },
    expectedClassFrequencies: () => freq.slice(),
  };
}

export function cumulative(p: number[]): Float64Array {
  const c = new Float64Array(p.length);
  let s = 0;
  p.forEach((v, i) => {
    s += v;
    c[i] = s;
  });
  return c;
}

/** Smallest i with u < cdf[i] (binary search); never returns a zero-probability class. */
export function pick(cdf: Float64Array, u: number): number {
  const x = u * cdf[cdf.length - 1];
  let lo = 0;
  let hi = cdf.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (x < cdf[mid]) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}
