import type { Sampler } from './base';
import { RandomSampler } from './random';

/** The sampler a study gets when none is given. */
export function defaultSampler(nObjectives: number): Sampler {
  void nObjectives;
  return new RandomSampler();
}
