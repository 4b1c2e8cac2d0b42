import { createHash } from 'node:crypto';
import type { DatasetDescription, ImageDataset, ShotThresholds } from './types';

export const DEFAULT_THRESHOLDS: ShotThresholds = { many: 100, few: 20 };

/** Images per class of a label array. */
export function classCounts(labels: Int32Array, numClasses: number): number[] {
  const c = new Array<number>(numClasses).fill(0);
  for (let i = 0; i < labels.length; i++) c[labels[i]]++;
  return c;
}

/** Many (> many), Few (< few), Medium (the rest) by training count. */
export function shotGroups(trainCounts: number[], t: ShotThresholds = DEFAULT_THRESHOLDS): DatasetDescription['groups'] {
  if (!(t.few <= t.many + 1)) throw new Error(`thresholds: few = ${t.few} > many + 1 = ${t.many + 1}: expected few <= many + 1`);
  const many: number[] = [];
  const medium: number[] = [];
  const few: number[] = [];
  trainCounts.forEach((n, c) => (n > t.many ? many : n < t.few ? few : medium).push(c));
  return { many, medium, few };
}

/** Builds the description of a train/test pair; the digest covers class names, counts and every item id + label. */
export function describe(
  name: string,
  source: string,
  classNames: string[],
  train: ImageDataset,
  test: ImageDataset,
  thresholds: ShotThresholds = DEFAULT_THRESHOLDS,
  imbalanceFactor?: number,
): DatasetDescription {
  const K = classNames.length;
  const trainCounts = classCounts(train.labels, K);
  const testCounts = classCounts(test.labels, K);
  const h = createHash('sha256');
  h.update(JSON.stringify({ name, source, classNames, trainCounts, testCounts, thresholds, imbalanceFactor: imbalanceFactor ?? null }));
  for (const [tag, ds] of [['train', train], ['test', test]] as const) {
    h.update(`\n${tag}\n`);
    for (let i = 0; i < ds.size; i++) h.update(`${ds.itemId(i)}\t${ds.labels[i]}\n`);
  }
  return {
    name,
    numClasses: K,
    classNames,
    trainCounts,
    testCounts,
    thresholds: { ...thresholds },
    groups: shotGroups(trainCounts, thresholds),
    digest: h.digest('hex'),
    source,
    ...(imbalanceFactor !== undefined ? { imbalanceFactor } : {}),
  };
}
