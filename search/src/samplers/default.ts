import type { Sampler } from './base';
import { TPESampler } from './tpe/sampler';

/** The sampler a study gets when none is given: TPE (MOTPE for several objectives), as Optuna 5. */
export function defaultSampler(_nObjectives: number): Sampler {
  return new TPESampler();
}
