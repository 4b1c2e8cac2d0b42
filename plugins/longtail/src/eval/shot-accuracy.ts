import { DEFAULT_THRESHOLDS, shotGroups } from '../data/describe';
import type { ShotThresholds } from '../data/types';

export interface ShotAccuracy {
  /** fraction of all test images predicted correctly */
  top1: number;
  /** mean of the per-class accuracies of each group; NaN when the group has no class with test images */
  many: number;
  medium: number;
  few: number;
  /** correct / test images of each class; NaN for a class without test images */
  perClass: number[];
  /** test images of each class */
  testCounts: number[];
  groups: { many: number[]; medium: number[]; few: number[] };
}

/**
 * Top-1 and Many/Medium/Few accuracy (Kang et al.'s shot_acc convention): groups are formed by TRAINING
 * counts (many > thresholds.many, few < thresholds.few, medium otherwise) and a group's accuracy is the
 * unweighted mean of its classes' accuracies. Classes without test images are left out of group means
 * (their per-class entry is NaN); a group with no such class reports NaN, never 0.
 */
export function shotAccuracy(pred: Int32Array, labels: Int32Array, trainCounts: number[], thresholds: ShotThresholds = DEFAULT_THRESHOLDS): ShotAccuracy {
  if (pred.length !== labels.length) throw new RangeError(`predictions have ${pred.length} entries but labels ${labels.length}: expected equal lengths`);
  const K = trainCounts.length;
  const total = new Array<number>(K).fill(0);
  const correct = new Array<number>(K).fill(0);
  let hits = 0;
  for (let i = 0; i < labels.length; i++) {
    const y = labels[i];
    if (!(y >= 0 && y < K)) throw new RangeError(`labels[${i}] = ${y}: expected a class in [0, ${K})`);
    total[y]++;
    if (pred[i] === y) {
      correct[y]++;
      hits++;
    }
  }
  const perClass = total.map((n, c) => (n > 0 ? correct[c] / n : NaN));
  const groups = shotGroups(trainCounts, thresholds);
  const mean = (cls: number[]) => {
    const v = cls.map((c) => perClass[c]).filter((a) => !Number.isNaN(a));
    return v.length ? v.reduce((a, b) => a + b, 0) / v.length : NaN;
  };
  return {
    top1: labels.length ? hits / labels.length : NaN,
    many: mean(groups.many),
    medium: mean(groups.medium),
    few: mean(groups.few),
    perClass,
    testCounts: total,
    groups,
  };
}
