import { InitSeeds, Linear } from './layers';
import type { VariableStore } from './store';
import { tfx, type Tensor2D } from './tf';

/**
 * Projection head of ICCL: MLP dim(h) -> dim(h) -> d with a ReLU between, output L2-normalised
 * (the embedding space where centroids live). Used in training only.
 */
export class ProjectionHead {
  private readonly fc1: Linear;
  private readonly fc2: Linear;

  constructor(
    readonly store: VariableStore,
    readonly inDim: number,
    readonly outDim = 128,
    seed = 0,
  ) {
    const seeds = new InitSeeds(seed + 7);
    this.fc1 = new Linear(store.scope('fc1'), seeds, inDim, inDim);
    this.fc2 = new Linear(store.scope('fc2'), seeds, inDim, outDim, true, 'uniform');
  }

  apply(h: Tensor2D): Tensor2D {
    const tf = tfx();
    return l2Normalize(this.fc2.apply(tf.relu(this.fc1.apply(h))));
  }
}

/** Rows divided by their L2 norm; the epsilon keeps a zero row finite (and its gradient bounded). */
export function l2Normalize(x: Tensor2D, epsilon = 1e-12): Tensor2D {
  const tf = tfx();
  const norm = tf.sqrt(tf.maximum(tf.sum(tf.square(x), 1, true), epsilon));
  return tf.div(x, norm);
}
