import { crossEntropy, type DeviceBatch, type MethodLoss, type Network, type Pass, type Stage1Method } from '@iccl/longtail';

/** Plain cross-entropy under instance-balanced sampling: the baseline every method is compared to. */
export class CrossEntropyMethod implements Stage1Method {
  readonly name = 'ce';
  readonly primarySampler = 'instance' as const;
  readonly secondSampler = null;
  readonly store = null;

  loss(net: Network, a: DeviceBatch, _b: DeviceBatch | null, pass: Pass): MethodLoss {
    const ce = crossEntropy(net.logits(a.x, pass), a.y, net.numClasses);
    return { total: ce, terms: { ce } };
  }

  dispose(): void {}
}
