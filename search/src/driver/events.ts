import type { FrozenTrial } from '../study/trial-types';

/** What the driver tells its caller (the progress line, tests). */
export type TrialEvent =
  | { kind: 'started'; number: number; params: Record<string, unknown> }
  | { kind: 'finished'; trial: FrozenTrial }
  | { kind: 'reaped'; number: number; reason: string }
  /** Trials the study already had finished (counted against the budget) when this run began. */
  | { kind: 'resumed'; done: number }
  | { kind: 'info'; message: string };

export type Emit = (e: TrialEvent) => void;
