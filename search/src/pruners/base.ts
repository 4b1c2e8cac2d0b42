import type { Study } from '../study/study';
import type { FrozenTrial } from '../study/trial-types';

/** A pruner after Optuna's: one decision, made from the trial's intermediate values and its study's. */
export interface Pruner {
  /** True when `trial` (RUNNING, with its latest report) should stop now. */
  prune(study: Study, trial: FrozenTrial): Promise<boolean>;
}
