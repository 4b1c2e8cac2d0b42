import { tfx, type Tensor1D, type Tensor4D } from '../models/tf';
import type { Rng } from './random';

/**
 * Mixing coefficients lam ~ Beta(alpha, alpha): one per sample, or one shared by the batch
 * (`perBatch`). alpha = 0 is the degenerate "no mixing" case: lam = 1.
 */
export function sampleLambdas(rng: Rng, n: number, alpha: number, perBatch = false): Float32Array {
  const out = new Float32Array(n);
  if (alpha <= 0) return out.fill(1);
  if (perBatch) return out.fill(rng.beta(alpha, alpha));
  for (let i = 0; i < n; i++) out[i] = rng.beta(alpha, alpha);
  return out;
}

/** x~ = lam * xa + (1 - lam) * xb, per sample. */
export function interpolate(xa: Tensor4D, xb: Tensor4D, lam: Tensor1D): Tensor4D {
  const tf = tfx();
  return tf.tidy(() => {
    const l = tf.reshape(lam, [-1, 1, 1, 1]);
    return tf.add(tf.mul(xa, l), tf.mul(xb, tf.sub(1, l))) as Tensor4D;
  });
}
