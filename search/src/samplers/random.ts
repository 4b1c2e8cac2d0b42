import type { Distribution } from '../study/distributions';
import { Rng } from '../study/rng';
import type { Sampler } from './base';
import { fromUnit } from './unit-transform';

/** Independent uniform draws (in log space for log ranges). The baseline, and TPE's start-up. */
export class RandomSampler implements Sampler {
  private readonly rng: Rng;

  constructor(seed?: number | null) {
    this.rng = new Rng(seed);
  }

  reseedRng(): void {
    this.rng.reseed(Math.floor(Math.random() * 0x100000000));
  }

  async inferRelativeSearchSpace(): Promise<Record<string, Distribution>> {
    return {};
  }

  async sampleRelative(): Promise<Record<string, number>> {
    return {};
  }

  async sampleIndependent(_study: unknown, _trial: unknown, _name: string, d: Distribution): Promise<number> {
    return this.sample(d);
  }

  /** Synchronous draw, for samplers that embed random sampling. */
  sample(d: Distribution): number {
    return fromUnit(d, this.rng.random());
  }
}
