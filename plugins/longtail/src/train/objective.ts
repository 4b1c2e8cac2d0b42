import type { ShotAccuracy } from '../eval/shot-accuracy';

export type ObjectiveKind = 'top1' | 'few' | 'blend';

/** The trainer's objective from the final evaluation; a Few-shot NaN (no few-shot class) falls back to top-1. */
export function objectiveValue(acc: Pick<ShotAccuracy, 'top1' | 'few'>, kind: ObjectiveKind, fewWeight: number): number {
  const few = Number.isNaN(acc.few) ? acc.top1 : acc.few;
  switch (kind) {
    case 'top1':
      return acc.top1;
    case 'few':
      return few;
    case 'blend':
      return (1 - fewWeight) * acc.top1 + fewWeight * few;
  }
}
