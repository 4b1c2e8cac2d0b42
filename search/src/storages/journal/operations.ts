/** Operation codes of Optuna's journal (one JSON object per line: `op_code`, `worker_id`, fields). */
export enum JournalOperation {
  CREATE_STUDY = 0,
  DELETE_STUDY = 1,
  SET_STUDY_USER_ATTR = 2,
  SET_STUDY_SYSTEM_ATTR = 3,
  CREATE_TRIAL = 4,
  SET_TRIAL_PARAM = 5,
  SET_TRIAL_STATE_VALUES = 6,
  SET_TRIAL_INTERMEDIATE_VALUE = 7,
  SET_TRIAL_USER_ATTR = 8,
  SET_TRIAL_SYSTEM_ATTR = 9,
  /** Written by other Optuna implementations; ignored on replay, as Optuna does. */
  DISCARD_TRIALS = 10,
}

/** One journal line. Field names are Optuna's, snake_case, because the file is shared with it. */
export interface JournalLog {
  op_code: JournalOperation;
  worker_id: string;
  [field: string]: unknown;
}

/** Optuna writes times as UTC ISO-8601 with microseconds: 2026-01-01T12:00:00.123000+00:00. */
export function isoMicros(d: Date): string {
  return d.toISOString().replace(/\.(\d{3})Z$/, '.$1000+00:00');
}

/** Parses Optuna's times; older journals hold naive local times, which Date also reads as local. */
export function parseIso(s: unknown): Date | null {
  if (typeof s !== 'string') return null;
  const d = new Date(s);
  return Number.isNaN(d.getTime()) ? null : d;
}
