import type { Pass } from './layers';
import type { VariableStore } from './store';
import type { Tensor2D, Tensor4D } from './tf';

/** A feature extractor f: images (NHWC) to the pooled feature h (N x featureDim). */
export interface Backbone {
  readonly name: string;
  readonly featureDim: number;
  /** the backbone's variables (a scope of the network's store) */
  readonly store: VariableStore;
  forward(x: Tensor4D, pass: Pass): Tensor2D;
}
