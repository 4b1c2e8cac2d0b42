import { rngFor, shuffleInPlace } from '../data/rng';
import type { Sampler } from './sampler';

/**
 * Instance-balanced (class-agnostic): every image once per epoch, in a seeded random order.
 * epochLength = number of images. A class is drawn with frequency n_c / N.
 */
export function instanceSampler(labels: Int32Array, numClasses: number, seed: number): Sampler {
  const N = labels.length;
  const counts = new Array<number>(numClasses).fill(0);
  for (let i = 0; i < N; i++) counts[labels[i]]++;
  return {
    kind: 'instance',
    epochLength: N,
    indices(epoch: number): Int32Array {
      const order = new Int32Array(N);
      for (let i = 0; i < N; i++) order[i] = i;
      return shuffleInPlace(order, rngFor(seed, 0x1a57, epoch));
    },
    expectedClassFrequencies: () => counts.map((n) => n / N),
  };
}
