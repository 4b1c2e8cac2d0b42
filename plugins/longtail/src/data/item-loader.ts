import { decodeFile } from './transforms';
import { transformPixels } from './transforms';
import { storeItemLoader } from './store-dataset';
import type { WorkerRecipe } from './types';

/** Rebuilds a data set's `load` from its worker recipe (used inside decode workers). */
export function itemLoaderFromRecipe(r: WorkerRecipe): (i: number, rng: () => number, train: boolean, out?: Float32Array) => Promise<Float32Array> {
  if (r.kind === 'memory') {
    const n = r.height * r.width * 3;
    return async (i, rng, train) => transformPixels(r.pixels.subarray(i * n, (i + 1) * n), r.height, r.width, r.transform, rng, train);
  }
  if (r.kind === 'store') return storeItemLoader(r);
  return (i, rng, train, out) => decodeFile(r.paths[i], r.transform, rng, train, out);
}
