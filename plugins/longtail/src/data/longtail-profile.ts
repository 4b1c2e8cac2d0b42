import { rngFor, shuffleInPlace } from './rng';

// A module-local binding: looking up the global `Math` is very slow inside jest's VM context, and these
// functions run per pixel / per draw.
const Math = globalThis.Math;

/**
 * The exponential long-tail profile of Cao et al. (LDAM) used for CIFAR-10/100-LT:
 * class i keeps floor(nMax * (1/IF)^(i/(K-1))) images, so class 0 keeps nMax and class K-1 keeps nMax/IF.
 * Computed as nMax * (1/IF)^(i/(K-1)) (the reference code's form) so counts match the published tables.
 */
export function exponentialProfile(nMax: number, numClasses: number, imbalanceFactor: number): number[] {
  if (!(imbalanceFactor >= 1)) throw new Error(`imbalanceFactor = ${imbalanceFactor}: expected a number >= 1`);
  if (!(Number.isInteger(nMax) && nMax >= 1)) throw new Error(`maxPerClass = ${nMax}: expected an integer >= 1`);
  if (numClasses === 1) return [nMax];
  const out: number[] = [];
  for (let i = 0; i < numClasses; i++) {
    out.push(Math.max(1, Math.floor(nMax * Math.pow(1 / imbalanceFactor, i / (numClasses - 1)))));
  }
  return out;
}

/**
 * Picks, for each class c, `keep[c]` of its items: a seeded shuffle of that class's items, first keep[c]
 * taken, then sorted back into source order (so the kept set does not depend on iteration details).
 * Returns the kept indices into `labels`.
 */
export function longTailSubset(labels: Int32Array, keep: number[], seed: number): Int32Array {
  const byClass: number[][] = keep.map(() => []);
  for (let i = 0; i < labels.length; i++) byClass[labels[i]].push(i);
  const kept: number[] = [];
  byClass.forEach((items, c) => {
    if (items.length < keep[c]) {
      throw new Error(`class ${c} has ${items.length} images but the profile asks for ${keep[c]}: expected at least as many`);
    }
    const order = shuffleInPlace(Int32Array.from(items), rngFor(seed, 0x17a11, c));
    for (let j = 0; j < keep[c]; j++) kept.push(order[j]);
  });
  kept.sort((a, b) => a - b);
  return Int32Array.from(kept);
}
