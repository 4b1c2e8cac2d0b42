import { distributionFromJson, toExternal, type Distribution } from '../../study/distributions';
import { isFinished, StudyDirection, TrialState, type FrozenStudy, type FrozenTrial } from '../../study/trial-types';
import { JournalOperation, parseIso, type JournalLog } from './operations';

type DistJson = Parameters<typeof distributionFromJson>[0];

/**
 * The state a journal describes, built by applying its operations in order. Every process that
 * replays the same lines reaches the same state, which is what makes the file a shared database:
 * an operation that is invalid when replayed (a write to a finished trial, a second claim of a
 * WAITING trial, a duplicate study name) is ignored by everyone, with the same rules as Optuna.
 */
export class JournalReplay {
  readonly studies = new Map<number, FrozenStudy>();
  readonly trials: FrozenTrial[] = [];
  readonly studyTrialIds = new Map<number, number[]>();
  readonly trialStudyId: number[] = [];
  private nextStudyId = 0;
  /** Trials this worker created or claimed, by replay of its own lines. */
  readonly owned = new Set<number>();
  lastCreatedTrialId = -1;
  /** Lines applied so far. */
  applied = 0;

  constructor(readonly workerId: string) {}

  apply(log: JournalLog): void {
    this.applied++;
    switch (log.op_code) {
      case JournalOperation.CREATE_STUDY:
        return this.createStudy(log);
      case JournalOperation.DELETE_STUDY:
        this.studies.delete(log.study_id as number);
        return;
      case JournalOperation.SET_STUDY_USER_ATTR:
      case JournalOperation.SET_STUDY_SYSTEM_ATTR: {
        const s = this.studies.get(log.study_id as number);
        if (!s) return;
        if (log.op_code === JournalOperation.SET_STUDY_USER_ATTR) s.userAttrs = { ...s.userAttrs, ...(log.user_attr as object) };
        else s.systemAttrs = { ...s.systemAttrs, ...(log.system_attr as object) };
        return;
      }
      case JournalOperation.CREATE_TRIAL:
        return this.createTrial(log);
      case JournalOperation.SET_TRIAL_PARAM:
        return this.setParam(log);
      case JournalOperation.SET_TRIAL_STATE_VALUES:
        return this.setStateValues(log);
      case JournalOperation.SET_TRIAL_INTERMEDIATE_VALUE: {
        const t = this.updatable(log.trial_id as number);
        if (t) t.intermediateValues.set(Number(log.step), log.intermediate_value as number);
        return;
      }
      case JournalOperation.SET_TRIAL_USER_ATTR: {
        const t = this.updatable(log.trial_id as number);
        if (t) t.userAttrs = { ...t.userAttrs, ...(log.user_attr as object) };
        return;
      }
      case JournalOperation.SET_TRIAL_SYSTEM_ATTR: {
        const t = this.updatable(log.trial_id as number);
        if (t) t.systemAttrs = { ...t.systemAttrs, ...(log.system_attr as object) };
        return;
      }
      case JournalOperation.DISCARD_TRIALS:
        return;
      default:
        throw new Error(`unknown journal op_code ${String(log.op_code)} (line ${this.applied})`);
    }
  }

  updatable(trialId: number): FrozenTrial | null {
    const t = this.trials[trialId];
    return t && !isFinished(t.state) ? t : null;
  }

  private createStudy(log: JournalLog): void {
    const name = log.study_name as string;
    for (const s of this.studies.values()) if (s.studyName === name) return;
    const studyId = this.nextStudyId++;
    this.studies.set(studyId, {
      studyId,
      studyName: name,
      directions: (log.directions as number[]).map((d) => d as StudyDirection),
      userAttrs: {},
      systemAttrs: {},
    });
    this.studyTrialIds.set(studyId, []);
  }

  private createTrial(log: JournalLog): void {
    const studyId = log.study_id as number;
    if (!this.studies.has(studyId)) return;
    const ids = this.studyTrialIds.get(studyId)!;
    const trialId = this.trials.length;
    const distributions: Record<string, Distribution> = {};
    for (const [k, v] of Object.entries((log.distributions as Record<string, DistJson>) ?? {})) distributions[k] = distributionFromJson(v);
    const params: FrozenTrial['params'] = {};
    for (const [k, v] of Object.entries((log.params as Record<string, number>) ?? {})) params[k] = toExternal(distributions[k], v);
    const value = log.value as number | null | undefined;
    const values = log.values as number[] | null | undefined;
    const iv = new Map<number, number>();
    for (const [k, v] of Object.entries((log.intermediate_values as Record<string, number>) ?? {})) iv.set(Number(k), v);
    const trial: FrozenTrial = {
      trialId,
      number: ids.length,
      state: (log.state as TrialState | undefined) ?? TrialState.RUNNING,
      values: values ?? (value === null || value === undefined ? null : [value]),
      datetimeStart: parseIso(log.datetime_start),
      datetimeComplete: parseIso(log.datetime_complete),
      params,
      distributions,
      userAttrs: (log.user_attrs as Record<string, unknown>) ?? {},
      systemAttrs: (log.system_attrs as Record<string, unknown>) ?? {},
      intermediateValues: iv,
    };
    this.trials.push(trial);
    this.trialStudyId.push(studyId);
    ids.push(trialId);
    if (log.worker_id === this.workerId) {
      this.lastCreatedTrialId = trialId;
      if (trial.state === TrialState.RUNNING) this.owned.add(trialId);
    }
  }

  private setParam(log: JournalLog): void {
    const t = this.updatable(log.trial_id as number);
    if (!t) return;
    const name = log.param_name as string;
    const dist = distributionFromJson(log.distribution as DistJson);
    // Optuna rejects a parameter whose distribution is incompatible (another kind) with earlier trials'.
    for (const id of this.studyTrialIds.get(this.trialStudyId[t.trialId]) ?? []) {
      const prev = this.trials[id].distributions[name];
      if (prev) {
        if (prev.kind !== dist.kind) return;
        if (prev.kind === 'categorical' && dist.kind === 'categorical' && JSON.stringify(prev.choices) !== JSON.stringify(dist.choices)) return;
        break;
      }
    }
    t.params = { ...t.params, [name]: toExternal(dist, log.param_value_internal as number) };
    t.distributions = { ...t.distributions, [name]: dist };
  }

  private setStateValues(log: JournalLog): void {
    const t = this.updatable(log.trial_id as number);
    if (!t) return;
    const state = log.state as TrialState;
    if (state === TrialState.RUNNING && t.state === TrialState.RUNNING) return; // someone claimed it first
    if (state === TrialState.RUNNING) {
      t.datetimeStart = parseIso(log.datetime_start);
      if (log.worker_id === this.workerId) this.owned.add(t.trialId);
    }
    if (isFinished(state)) t.datetimeComplete = parseIso(log.datetime_complete);
    t.state = state;
    if (log.values !== null && log.values !== undefined) t.values = log.values as number[];
  }
}
