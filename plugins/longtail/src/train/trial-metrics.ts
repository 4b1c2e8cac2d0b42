import type { ShotAccuracy } from '../eval/shot-accuracy';

/** val/*: the validation split, during training (what a search selects on); test/* and stage1_test/*: the test split, read once each. */
export type AccPrefix = 'val' | 'test' | 'stage1_test';

export function accMetrics(prefix: AccPrefix, acc: ShotAccuracy): Record<string, number> {
  return { [`${prefix}/top1`]: acc.top1, [`${prefix}/many`]: acc.many, [`${prefix}/medium`]: acc.medium, [`${prefix}/few`]: acc.few };
}

/** Finite numbers only: trackers and pruners must not see NaN (a group without classes). */
export function finiteOnly(m: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(m).filter(([, v]) => Number.isFinite(v)));
}
