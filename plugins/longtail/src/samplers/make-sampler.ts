import { classAwareSampler } from './class-aware';
import { classBalancedSampler } from './class-balanced';
import { instanceSampler } from './instance';
import type { Sampler, SamplerKind, SamplerOptions } from './sampler';
import { sqrtSampler } from './sqrt';

/** One entry point for the four samplers; see each file for its definition and epoch length. */
export function makeSampler(kind: SamplerKind, labels: Int32Array, numClasses: number, opts: SamplerOptions): Sampler {
  const len = opts.epochLength ?? labels.length;
  if (!(Number.isInteger(len) && len >= 1)) throw new RangeError(`epochLength = ${len}: expected an integer >= 1`);
  switch (kind) {
    case 'instance':
      if (opts.epochLength !== undefined && opts.epochLength !== labels.length) {
        throw new RangeError(`epochLength = ${opts.epochLength}: the instance sampler visits every image once, expected ${labels.length}`);
      }
      return instanceSampler(labels, numClasses, opts.seed);
    case 'class-balanced':
      return classBalancedSampler(labels, numClasses, opts.seed, len, opts.perVisit ?? 4);
    case 'sqrt':
      return sqrtSampler(labels, numClasses, opts.seed, len);
    case 'class-aware':
      return classAwareSampler(labels, numClasses, opts.seed, opts.samplerRatio ?? 0.5, len);
    default:
      throw new RangeError(`sampler kind = ${JSON.stringify(kind)}: expected one of instance, class-balanced, sqrt, class-aware`);
  }
}
