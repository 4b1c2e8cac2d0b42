import { tfx, type Tensor } from '../../models/tf';

export interface Mismatch {
  key: string;
  /** largest |compiled - eager| over the tensor, divided by the largest |eager| */
  relative: number;
  /** tensors compared */
  count: number;
}

/**
 * The worst relative difference between `got` and `want` (same keys, same shapes), each tensor's
 * difference scaled by its own largest magnitude: float32 round-off of sums computed in another
 * order is relative to the size of the values summed, so a near-zero element of a large tensor
 * may differ by more than its own size.
 */
export function worstDifference(got: Map<string, Tensor>, want: Map<string, Tensor>): Mismatch {
  const tf = tfx();
  let worst: Mismatch = { key: '-', relative: 0, count: want.size };
  for (const [key, w] of want) {
    const g = got.get(key);
    if (!g) return { key, relative: Infinity, count: want.size };
    const [diff, scale] = tf.tidy(() => [tf.max(tf.abs(tf.sub(g, w))).dataSync()[0], tf.max(tf.abs(w)).dataSync()[0]]);
    const relative = Number.isNaN(diff) ? Infinity : diff / Math.max(scale, 1e-30);
    if (relative > worst.relative) worst = { key, relative, count: want.size };
  }
  return worst;
}
