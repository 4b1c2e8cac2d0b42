import { PercentilePruner, type PercentilePrunerOptions } from './percentile';

/** Prunes trials worse than the median of complete trials at the same step (percentile 50). */
export class MedianPruner extends PercentilePruner {
  constructor(opts: PercentilePrunerOptions = {}) {
    super(50, opts);
  }
}
