import { mixedTargets, softCrossEntropy, tfx, type Scalar, type Tensor1D, type Tensor2D } from '@iccl/longtail';

/**
 * Interpolative centroid contrastive loss (ICCL.md, stage 1 step 6):
 *   s = z C^T / tau,  logp = log_softmax(s),  L = -mean_i [lam_i logp[i, ya_i] + (1 - lam_i) logp[i, yb_i]].
 * `z` are the (L2-normalised) embeddings of the interpolated images, `centroids` the K x d class
 * centroids (a constant here: they move by EMA, never by gradient). log_softmax is evaluated in its
 * log-sum-exp form, so large similarities do not overflow.
 */
export function iccLoss(z: Tensor2D, centroids: Tensor2D, ya: Tensor1D, yb: Tensor1D, lam: Tensor1D, tau: number): Scalar {
  const tf = tfx();
  return tf.tidy(() => {
    const s = tf.div(tf.matMul(z, centroids, false, true), tau) as Tensor2D;
    return softCrossEntropy(s, mixedTargets(ya, yb, lam, centroids.shape[0]));
  });
}
