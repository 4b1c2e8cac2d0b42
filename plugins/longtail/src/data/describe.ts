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

/** What describe() records besides the splits. */
export interface DescribeOptions {
  thresholds?: ShotThresholds;
  imbalanceFactor?: number;
  /** how the validation split was made, in words */
  valRule: string;
  /** counts the Many/Medium/Few groups are drawn from, when not the training split's */
  groupCounts?: number[];
}

/** Builds the description of a train/val/test triple; the digest covers class names, counts and every item id + label. */
export function describe(
  name: string,
  source: string,
  classNames: string[],
  splits: { train: ImageDataset; val: ImageDataset; test: ImageDataset },
  o: DescribeOptions,
): DatasetDescription {
  const K = classNames.length;
  const thresholds = o.thresholds ?? DEFAULT_THRESHOLDS;
  const [trainCounts, valCounts, testCounts] = [splits.train, splits.val, splits.test].map((ds) => classCounts(ds.labels, K));
  const h = createHash('sha256');
  h.update(JSON.stringify({ name, source, classNames, trainCounts, testCounts, thresholds, imbalanceFactor: o.imbalanceFactor ?? null }));
  for (const [tag, ds] of [['train', splits.train], ['test', splits.test]] as const) {
    h.update(`\n${tag}\n`);
    for (let i = 0; i < ds.size; i++) h.update(`${ds.itemId(i)}\t${ds.labels[i]}\n`);
  }
  // After the two original splits, so that the hash input up to here is what it was before validation splits.
  h.update(`\nval\n${JSON.stringify({ valCounts, valRule: o.valRule, groupCounts: o.groupCounts ?? null })}\n`);
  for (let i = 0; i < splits.val.size; i++) h.update(`${splits.val.itemId(i)}\t${splits.val.labels[i]}\n`);
  return {
    name,
    numClasses: K,
    classNames,
    trainCounts,
    valCounts,
    testCounts,
    thresholds: { ...thresholds },
    groups: shotGroups(o.groupCounts ?? trainCounts, thresholds),
    ...(o.groupCounts ? { groupCounts: o.groupCounts } : {}),
    valRule: o.valRule,
    digest: h.digest('hex'),
    source,
    ...(o.imbalanceFactor !== undefined ? { imbalanceFactor: o.imbalanceFactor } : {}),
  };
}
