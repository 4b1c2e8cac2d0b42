import type { Network } from '../models/network';
import { inferencePass } from '../models/layers';
import { tfx, type Tensor4D } from '../models/tf';
import { makeLoader } from '../data/loader';
import type { DataSplit } from '../data/types';
import { shotAccuracy, type ShotAccuracy } from '../eval/shot-accuracy';
import { makeSampler } from '../samplers/make-sampler';

/**
 * Top-1 and Many/Medium/Few of `net` on one split (inference-mode batch norm, no augmentation): 'val'
 * during training (what a search selects on), 'test' once at the end (the default).
 */
export async function evaluate(
  net: Network,
  data: DataSplit,
  opts: { batchSize: number; seed: number; workers?: number; signal?: AbortSignal; split?: 'val' | 'test' },
): Promise<ShotAccuracy> {
  const tf = tfx();
  const split = opts.split ?? 'test';
  const ds = data[split];
  if (ds.size === 0) {
    const why = split === 'val' ? ` (${data.description.valRule}): expected at least one image (raise valPerClass or valSplit)` : ': expected at least one image';
    throw new Error(`${data.description.name}: the ${split === 'val' ? 'validation' : 'test'} split is empty${why}`);
  }
  const sampler = makeSampler('instance', ds.labels, ds.numClasses, { seed: opts.seed });
  const loader = makeLoader(ds, sampler, { batchSize: opts.batchSize, epoch: 0, train: false, seed: opts.seed, workers: opts.workers, signal: opts.signal });
  const pred = new Int32Array(ds.size);
  const labels = new Int32Array(ds.size);
  let k = 0;
  for await (const b of loader) {
    if (b.n === 0) continue;
    const p = tf.tidy(() => {
      const x = tf.tensor4d(b.x, [b.n, ...b.shape]) as Tensor4D;
      return tf.argMax(net.logits(x, inferencePass()), 1);
    });
    const values = (await p.data()) as Int32Array;
    p.dispose();
    pred.set(values, k);
    labels.set(b.y.subarray(0, b.n), k);
    k += b.n;
  }
  // Groups by the description's group counts (inat18: the full train2018's, the literature's groups).
  const d = data.description;
  return shotAccuracy(pred.subarray(0, k), labels.subarray(0, k), d.groupCounts ?? d.trainCounts, d.thresholds);
}
