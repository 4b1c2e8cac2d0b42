// Shared by the compiled-step tests: a plain cross-entropy method and seeded batches of K classes.
import { loadTf } from '@iccl/tf-backend';
import { crossEntropy } from '../src/models';
import type { Tensor1D, Tensor4D } from '../src/models/tf';
import type { DeviceBatch, Stage1Method } from '../src/train/method';
import { values } from './fixed-values';

export const K = 5;

export const ce: Stage1Method = {
  name: 'ce',
  primarySampler: 'instance',
  secondSampler: null,
  store: null,
  loss: (net, a, _b, pass) => {
    const l = crossEntropy(net.logits(a.x, pass), a.y, net.numClasses);
    return { total: l, terms: { ce: l } };
  },
  dispose: () => {},
};

/** n images of side x side x 3 from fixed values, labels cycling through the K classes. */
export function batch(n: number, side: number, seed: number): DeviceBatch {
  const tf = loadTf('cpu');
  const labels = Int32Array.from({ length: n }, (_, i) => (i * 3 + seed) % K);
  return { x: tf.tensor4d(values(n * side * side * 3, seed), [n, side, side, 3]) as Tensor4D, y: tf.tensor1d(labels, 'int32') as Tensor1D, labels, n };
}
