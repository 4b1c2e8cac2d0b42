/**
 * A sampler turns an epoch number into the list of data-set indices to visit, deterministically from its
 * seed. `epochLength` is the number of indices per epoch (documented per sampler).
 */
export interface Sampler {
  readonly kind: SamplerKind;
  readonly epochLength: number;
  indices(epoch: number): Int32Array;
  /** the probability that one draw comes from each class (what the sampler is defined to produce) */
  expectedClassFrequencies(): number[];
}

export type SamplerKind = 'instance' | 'class-balanced' | 'sqrt' | 'class-aware';

export interface SamplerOptions {
  seed: number;
  /** class-aware: probability that a draw is class-balanced (default 0.5) */
  samplerRatio?: number;
  /** indices per epoch (default: the data set size, so all samplers give the same number of steps) */
  epochLength?: number;
  /** class-balanced: consecutive images taken from a class per visit (Kang et al. use 4; default 4) */
  perVisit?: number;
}

/** Items of each class, in index order. Every class must have at least one item for class-based samplers. */
export function itemsByClass(labels: Int32Array, numClasses: number): Int32Array[] {
  const counts = new Array<number>(numClasses).fill(0);
  for (let i = 0; i < labels.length; i++) {
    const y = labels[i];
    if (!(y >= 0 && y < numClasses)) throw new RangeError(`labels[${i}] = ${y}: expected a class in [0, ${numClasses})`);
    counts[y]++;
  }
  const out = counts.map((n) => new Int32Array(n));
  const fill = new Array<number>(numClasses).fill(0);
  for (let i = 0; i < labels.length; i++) out[labels[i]][fill[labels[i]]++] = i;
  return out;
}

export function nonEmptyClasses(byClass: Int32Array[]): number[] {
  const out: number[] = [];
  byClass.forEach((items, c) => {
    if (items.length > 0) out.push(c);
  });
  return out;
}
