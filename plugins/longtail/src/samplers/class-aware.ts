import { rngFor } from '../data/rng';
import { itemsByClass, nonEmptyClasses, type Sampler } from './sampler';

// A module-local binding: looking up the global `Math` is very slow inside jest's VM context, and these
// functions run per pixel / per draw.
const Math = globalThis.Math;

/**
 * ICCL's class-aware sampler (our definition, see design/ICCL.md): each draw, with probability r
 * (`samplerRatio`), picks a class uniformly among non-empty classes and then one of its images uniformly;
 * otherwise it picks an image uniformly from the whole set. Draws are i.i.d. with replacement, so class c is
 * drawn with frequency r / K + (1 - r) n_c / N. r = 1 is class-balanced, r = 0 instance-balanced (with
 * replacement). epochLength defaults to the data-set size.
 */
export function classAwareSampler(labels: Int32Array, numClasses: number, seed: number, samplerRatio: number, epochLength = labels.length): Sampler {
  if (!(samplerRatio >= 0 && samplerRatio <= 1)) throw new RangeError(`samplerRatio = ${samplerRatio}: expected a number in [0, 1]`);
  const byClass = itemsByClass(labels, numClasses);
  const classes = nonEmptyClasses(byClass);
  const N = labels.length;
  if (N === 0) throw new Error('class-aware sampler: no labelled items: expected at least one');
  const K = classes.length;
  const freq = byClass.map((items) => (items.length > 0 ? samplerRatio / K : 0) + ((1 - samplerRatio) * items.length) / N);
  return {
    kind: 'class-aware',
    epochLength,
    indices(epoch: number): Int32Array {
      const rng = rngFor(seed, 0xca5e, epoch);
      const out = new Int32Array(epochLength);
      for (let k = 0; k < epochLength; k++) {
        if (rng() < samplerRatio) {
          const items = byClass[classes[Math.floor(rng() * K)]];
          out[k] = items[Math.floor(rng() * items.length)];
        } else {
          out[k] = Math.floor(rng() * N);
        }
      }
      return out;
    },
    expectedClassFrequencies: () => freq.slice(),
  };
}
