import type { Distribution } from '../study/distributions';
import type { Study } from '../study/study';
import type { FrozenTrial } from '../study/trial-types';
import type { Sampler } from './base';
import { freshSeed, trialRng } from './trial-seed';
import { fromUnit } from './unit-transform';

/**
 * Independent uniform draws (in log space for log ranges). The baseline, and TPE's start-up. Each
 * parameter of each trial has its own stream, from the seed, the trial's place and the name.
 */
export class RandomSampler implements Sampler {
  private seed: number;

  constructor(seed?: number | null) {
    this.seed = seed ?? freshSeed();
  }

  reseedRng(): void {
    this.seed = freshSeed();
  }

  async inferRelativeSearchSpace(): Promise<Record<string, Distribution>> {
    return {};
  }

  async sampleRelative(): Promise<Record<string, number>> {
    return {};
  }

  async sampleIndependent(study: Study, trial: FrozenTrial, name: string, d: Distribution): Promise<number> {
    return fromUnit(d, (await trialRng(this.seed, study, trial, name)).random());
  }
}
