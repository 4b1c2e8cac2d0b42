import { syntheticDataset } from './synthetic';
import type { DataSplit, DatasetSpec, LoadOptions } from './types';

/** Opens a data set described by `spec`; validates files on the way (errors name file, line/key, expectation). */
export async function loadDataset(spec: DatasetSpec, opts: LoadOptions = {}): Promise<DataSplit> {
  opts.signal?.throwIfAborted();
  switch (spec.kind) {
    case 'synthetic':
      return syntheticDataset({
        numClasses: spec.numClasses,
        maxPerClass: spec.maxPerClass,
        imbalanceFactor: spec.imbalanceFactor,
        testPerClass: spec.testPerClass,
        seed: spec.seed,
        imageSize: spec.imageSize,
        thresholds: spec.thresholds,
        transform: spec.transform,
      });
    default:
      throw new Error(`data set kind = ${JSON.stringify(spec.kind)}: not available yet`);
  }
}
