import type { Batch } from '../data/loader';
import { tfx, type Tensor1D, type Tensor4D } from '../models/tf';
import type { DeviceBatch } from './method';

/** A host batch as tensors: the first `n` images and labels only (the loader's buffers may be longer). */
export function toDevice(b: Batch): DeviceBatch {
  const tf = tfx();
  return {
    x: tf.tensor4d(b.x.subarray(0, b.n * b.shape[0] * b.shape[1] * b.shape[2]), [b.n, ...b.shape]) as Tensor4D,
    y: tf.tensor1d(b.y.subarray(0, b.n), 'int32') as Tensor1D,
    labels: b.y.subarray(0, b.n),
    n: b.n,
  };
}

export function disposeBatch(b: DeviceBatch | null): void {
  if (b) {
    b.x.dispose();
    b.y.dispose();
  }
}
