import type { Distribution } from '../study/distributions';
import { TrialState, type FrozenStudy, type FrozenTrial, type StudyDirection } from '../study/trial-types';

/** Thrown when a study name is taken (create) or unknown (get). */
export class DuplicatedStudyError extends Error {}
export class StudyNotFoundError extends Error {}
/** A write to a finished trial, or a state change another worker made first. */
export class StaleTrialError extends Error {}
/** `Study.tell` of a trial that is already finished (by this worker, or by another that took it as dead). */
export class TrialAlreadyFinishedError extends StaleTrialError {
  constructor(
    readonly trialNumber: number,
    readonly state: TrialState,
  ) {
    super(`tell: trial ${trialNumber} is already ${TrialState[state]}`);
  }
}

/**
 * The storage contract, after Optuna's BaseStorage: every method is async and atomic on its own,
 * so a storage may live in memory, in a journal file shared by processes, or in PostgreSQL shared
 * by machines. Trials are identified by a storage-wide `trialId`.
 */
export interface Storage {
  createStudy(directions: StudyDirection[], studyName: string): Promise<number>;
  deleteStudy(studyId: number): Promise<void>;
  getStudyIdFromName(studyName: string): Promise<number>;
  getStudyNameFromId(studyId: number): Promise<string>;
  getStudyDirections(studyId: number): Promise<StudyDirection[]>;
  getAllStudies(): Promise<FrozenStudy[]>;
  setStudyUserAttr(studyId: number, key: string, value: unknown): Promise<void>;
  setStudySystemAttr(studyId: number, key: string, value: unknown): Promise<void>;
  getStudyUserAttrs(studyId: number): Promise<Record<string, unknown>>;
  getStudySystemAttrs(studyId: number): Promise<Record<string, unknown>>;

  /** Creates a trial (RUNNING unless `template` says otherwise, e.g. WAITING for enqueued ones). */
  createNewTrial(studyId: number, template?: Partial<FrozenTrial>): Promise<number>;
  /**
   * Sets the state (and values when finishing). Returns false if the trial is not in a state that
   * allows the change (e.g. claiming a WAITING trial another worker already took).
   */
  setTrialStateValues(trialId: number, state: TrialState, values?: number[] | null): Promise<boolean>;
  setTrialParam(trialId: number, name: string, internalValue: number, distribution: Distribution): Promise<void>;
  setTrialIntermediateValue(trialId: number, step: number, value: number): Promise<void>;
  setTrialUserAttr(trialId: number, key: string, value: unknown): Promise<void>;
  setTrialSystemAttr(trialId: number, key: string, value: unknown): Promise<void>;

  getTrial(trialId: number): Promise<FrozenTrial>;
  /** All trials of a study in `number` order, optionally only those in `states`. */
  getAllTrials(studyId: number, states?: TrialState[]): Promise<FrozenTrial[]>;
  getTrialIdFromStudyIdTrialNumber(studyId: number, trialNumber: number): Promise<number>;

  /**
   * Creates a RUNNING trial unless the study already holds `limit` trials that count (those without
   * the system attribute `exemptAttr`, e.g. retries): check and create are one atomic step across
   * processes and hosts. Returns the new trial's id, or null when the limit is reached.
   */
  createTrialWithinLimit(studyId: number, limit: number, exemptAttr: string): Promise<number | null>;

  /** Liveness of RUNNING trials for multi-host workers (no-op where not supported). */
  recordHeartbeat?(trialId: number): Promise<void>;
  /** RUNNING trials whose heartbeat is older than `graceSeconds`. */
  getStaleTrialIds?(studyId: number, graceSeconds: number): Promise<number[]>;

  close(): Promise<void>;
}
