import { tfx, type Scalar, type Tensor1D, type Tensor2D } from './tf';

/**
 * Cross-entropy against soft targets, -mean_i sum_k t_ik log softmax(s)_ik, with log_softmax in its
 * log-sum-exp form (s - max - log sum exp(s - max)), so large logits do not overflow. One-hot targets
 * give plain cross-entropy; lam/(1-lam) targets give the interpolated losses of mixup and ICCL.
 */
export function softCrossEntropy(logits: Tensor2D, targets: Tensor2D): Scalar {
  const tf = tfx();
  return tf.tidy(() => tf.neg(tf.mean(tf.sum(tf.mul(targets, tf.logSoftmax(logits, 1)), 1))) as Scalar);
}

/** lam_i * onehot(ya_i) + (1 - lam_i) * onehot(yb_i); equal labels give a one-hot row. */
export function mixedTargets(ya: Tensor1D, yb: Tensor1D, lam: Tensor1D, numClasses: number): Tensor2D {
  const tf = tfx();
  return tf.tidy(() => {
    const l = tf.expandDims(lam, 1);
    const a = tf.oneHot(tf.cast(ya, 'int32') as Tensor1D, numClasses).toFloat();
    const b = tf.oneHot(tf.cast(yb, 'int32') as Tensor1D, numClasses).toFloat();
    return tf.add(tf.mul(a, l), tf.mul(b, tf.sub(1, l))) as Tensor2D;
  });
}

export function crossEntropy(logits: Tensor2D, labels: Tensor1D, numClasses: number): Scalar {
  const tf = tfx();
  return tf.tidy(() => softCrossEntropy(logits, tf.oneHot(tf.cast(labels, 'int32') as Tensor1D, numClasses).toFloat() as Tensor2D));
}
