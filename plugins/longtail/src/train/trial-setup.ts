import * as fs from 'node:fs';
import type { ParamValue, TrialContext } from '@iccl/trainer-api';
import { backendTags, loadTf, type Tf } from '@iccl/tf-backend';
import { loadDataset } from '../data/load-dataset';
import type { DataSplit, DatasetKind, DatasetSpec } from '../data/types';
import { buildNetwork, type Network } from '../models/network';
import type { Stage1Method } from './method';
import type { CommonParams } from './params';
import { seedFrom } from './random';
import { STREAM } from './streams';

export interface TwoStageOptions {
  /** plugin name, recorded as a tag */
  trainer: string;
  params: CommonParams;
  /** the method's own parameters, logged and fingerprinted with the common ones */
  methodParams: Record<string, ParamValue>;
  makeMethod: (net: Network, data: DataSplit) => Stage1Method;
  ctx: TrialContext;
  /** a data split to use instead of loading `params.dataset` (tests, benches) */
  data?: DataSplit;
}

/** What a trial trains with: the TensorFlow handle, its data, network and stage-1 method. */
export interface Trial {
  o: TwoStageOptions;
  p: CommonParams;
  ctx: TrialContext;
  tf: Tf;
  data: DataSplit;
  net: Network;
  method: Stage1Method;
}

/** The data-set spec the common parameters describe. */
export function datasetSpec(p: CommonParams): DatasetSpec {
  return {
    kind: p.dataset as DatasetKind,
    dataDir: p.dataDir || undefined,
    imbalanceFactor: p.imbalanceFactor,
    seed: p.dataSeed,
    imageSize: p.imageSize || undefined,
    numClasses: p.dataset === 'synthetic' ? p.syntheticClasses : undefined,
    maxPerClass: p.maxPerClass || undefined,
    testPerClass: p.testPerClass || undefined,
    valPerClass: p.valPerClass || undefined,
    valSplit: p.valSplit,
    thresholds: { many: p.manyThreshold, few: p.fewThreshold },
  };
}

/** Device, tags and parameters, the data (logged as the run's input), network and method. */
export async function openTrial(o: TwoStageOptions): Promise<Trial> {
  const { params: p, ctx } = o;
  const tf = loadTf(p.device);
  const log = ctx.log;
  ctx.tracker.setTags({ ...backendTags(), 'iccl.trainer': o.trainer });
  ctx.tracker.logParams({ ...p, ...o.methodParams });

  const data = o.data ?? (await loadDataset(datasetSpec(p), { signal: ctx.signal, log }));
  const d = data.description;
  ctx.tracker.logInput({
    name: d.name,
    digest: d.digest,
    source: d.source,
    context: 'train',
    profile: { numClasses: d.numClasses, trainCounts: d.trainCounts, testCounts: d.testCounts, imbalanceFactor: d.imbalanceFactor ?? null },
  });

  fs.mkdirSync(ctx.workDir, { recursive: true });
  const net = buildNetwork({ model: p.model, inputShape: data.inputShape, numClasses: d.numClasses, seed: seedFrom(p.seed, STREAM.init), width: p.width, recompute: p.recompute });
  let method: Stage1Method;
  try {
    method = o.makeMethod(net, data);
  } catch (e) {
    net.dispose();
    throw e;
  }
  return { o, p, ctx, tf, data, net, method };
}
