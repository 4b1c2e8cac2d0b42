import type { Distribution } from '../study/distributions';
import type { Study } from '../study/study';
import type { FrozenTrial, TrialState } from '../study/trial-types';

/**
 * A sampler after Optuna's: parameters are drawn either jointly ("relative", over a search space the
 * sampler infers from past trials, before the objective runs) or one at a time ("independent", when
 * the objective asks for a parameter outside that space). All values are internal floats
 * (categoricals as choice indices). The study calls these hooks; it never knows which sampler it holds.
 */
export interface Sampler {
  /** The parameters to draw jointly for `trial`; {} for samplers that only sample independently. */
  inferRelativeSearchSpace(study: Study, trial: FrozenTrial): Promise<Record<string, Distribution>>;
  /** Joint draw over `searchSpace`; may return a subset (the rest falls back to independent). */
  sampleRelative(study: Study, trial: FrozenTrial, searchSpace: Record<string, Distribution>): Promise<Record<string, number>>;
  /** One parameter, drawn when the objective first asks for it. */
  sampleIndependent(study: Study, trial: FrozenTrial, name: string, distribution: Distribution): Promise<number>;
  /** Called when a trial starts (after it is created or claimed, before relative sampling). */
  beforeTrial?(study: Study, trial: FrozenTrial): Promise<void>;
  /** Called when a trial is told, before its final state is written. */
  afterTrial?(study: Study, trial: FrozenTrial, state: TrialState, values: number[] | null): Promise<void>;
  /** Re-seeds from fresh entropy (Optuna does this in each forked worker so they do not draw alike). */
  reseedRng?(): void;
}
