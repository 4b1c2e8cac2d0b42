import type { Distribution, ParamValue } from './distributions';

/** Same states, same numbering as Optuna's TrialState (the journal stores the number). */
export enum TrialState {
  RUNNING = 0,
  COMPLETE = 1,
  PRUNED = 2,
  FAIL = 3,
  WAITING = 4,
}

export enum StudyDirection {
  NOT_SET = 0,
  MINIMIZE = 1,
  MAXIMIZE = 2,
}

/** A snapshot of a trial; immutable once the trial is finished. */
export interface FrozenTrial {
  /** Storage-wide id. */
  trialId: number;
  /** 0-based number within its study. */
  number: number;
  state: TrialState;
  /** One value per objective; null until complete. */
  values: number[] | null;
  datetimeStart: Date | null;
  datetimeComplete: Date | null;
  /** External values (categoricals as their choice). */
  params: Record<string, ParamValue>;
  distributions: Record<string, Distribution>;
  userAttrs: Record<string, unknown>;
  systemAttrs: Record<string, unknown>;
  /** step -> value */
  intermediateValues: Map<number, number>;
}

export interface FrozenStudy {
  studyId: number;
  studyName: string;
  directions: StudyDirection[];
  userAttrs: Record<string, unknown>;
  systemAttrs: Record<string, unknown>;
}

export function lastStep(t: FrozenTrial): number | null {
  let best: number | null = null;
  for (const s of t.intermediateValues.keys()) if (best === null || s > best) best = s;
  return best;
}

export function isFinished(state: TrialState): boolean {
  return state === TrialState.COMPLETE || state === TrialState.PRUNED || state === TrialState.FAIL;
}
