import { contains, sameDistribution, toExternal, type Distribution } from '../study/distributions';
import { isFinished, StudyDirection, TrialState, type FrozenStudy, type FrozenTrial } from '../study/trial-types';
import { DuplicatedStudyError, StaleTrialError, StudyNotFoundError, type Storage } from './base';

interface StudyRecord {
  studyId: number;
  studyName: string;
  directions: StudyDirection[];
  userAttrs: Record<string, unknown>;
  systemAttrs: Record<string, unknown>;
  /** trialIds in `number` order. */
  trialIds: number[];
  /** First distribution seen per parameter name: later trials must use a compatible one. */
  paramDistributions: Map<string, Distribution>;
}

/**
 * Storage in this process's memory: the default for `createStudy()` without a storage, and the
 * state that the journal storage replays its log into. Every method returns copies, so a
 * FrozenTrial held by a caller never changes under it.
 */
export class InMemoryStorage implements Storage {
  private studies = new Map<number, StudyRecord>();
  private trials = new Map<number, FrozenTrial>();
  private trialStudy = new Map<number, number>();
  private nextStudyId = 0;
  private nextTrialId = 0;

  async createStudy(directions: StudyDirection[], studyName: string): Promise<number> {
    return this.createStudySync(directions, studyName);
  }

  createStudySync(directions: StudyDirection[], studyName: string): number {
    for (const s of this.studies.values()) {
      if (s.studyName === studyName) throw new DuplicatedStudyError(`study "${studyName}" already exists`);
    }
    if (directions.length === 0) throw new Error('createStudy: directions must name at least one objective');
    const studyId = this.nextStudyId++;
    this.studies.set(studyId, {
      studyId,
      studyName,
      directions: [...directions],
      userAttrs: {},
      systemAttrs: {},
      trialIds: [],
      paramDistributions: new Map(),
    });
    return studyId;
  }

  /** One process, no await between count and create: atomic as it stands. */
  async createTrialWithinLimit(studyId: number, limit: number, exemptAttr: string): Promise<number | null> {
    const s = this.study(studyId);
    const counted = s.trialIds.filter((id) => this.trials.get(id)!.systemAttrs[exemptAttr] === undefined).length;
    if (counted >= limit) return null;
    return this.createNewTrial(studyId);
  }

  async deleteStudy(studyId: number): Promise<void> {
    const s = this.study(studyId);
    for (const id of s.trialIds) {
      this.trials.delete(id);
      this.trialStudy.delete(id);
    }
    this.studies.delete(studyId);
  }

  async getStudyIdFromName(studyName: string): Promise<number> {
    for (const s of this.studies.values()) if (s.studyName === studyName) return s.studyId;
    throw new StudyNotFoundError(`no study named "${studyName}"`);
  }

  async getStudyNameFromId(studyId: number): Promise<string> {
    return this.study(studyId).studyName;
  }

  async getStudyDirections(studyId: number): Promise<StudyDirection[]> {
    return [...this.study(studyId).directions];
  }

  async getAllStudies(): Promise<FrozenStudy[]> {
    return [...this.studies.values()].map((s) => ({
      studyId: s.studyId,
      studyName: s.studyName,
      directions: [...s.directions],
      userAttrs: cloneJson(s.userAttrs),
      systemAttrs: cloneJson(s.systemAttrs),
    }));
  }

  async setStudyUserAttr(studyId: number, key: string, value: unknown): Promise<void> {
    this.study(studyId).userAttrs[key] = cloneJson(value);
  }

  async setStudySystemAttr(studyId: number, key: string, value: unknown): Promise<void> {
    this.study(studyId).systemAttrs[key] = cloneJson(value);
  }

  async getStudyUserAttrs(studyId: number): Promise<Record<string, unknown>> {
    return cloneJson(this.study(studyId).userAttrs);
  }

  async getStudySystemAttrs(studyId: number): Promise<Record<string, unknown>> {
    return cloneJson(this.study(studyId).systemAttrs);
  }

  async createNewTrial(studyId: number, template?: Partial<FrozenTrial>): Promise<number> {
    const s = this.study(studyId);
    const trialId = this.nextTrialId++;
    const state = template?.state ?? TrialState.RUNNING;
    const now = new Date();
    const trial: FrozenTrial = {
      trialId,
      number: s.trialIds.length,
      state,
      values: template?.values ? [...template.values] : null,
      datetimeStart: template?.datetimeStart ?? (state === TrialState.WAITING ? null : now),
      datetimeComplete: template?.datetimeComplete ?? (isFinished(state) ? now : null),
      params: { ...(template?.params ?? {}) },
      distributions: { ...(template?.distributions ?? {}) },
      userAttrs: cloneJson(template?.userAttrs ?? {}),
      systemAttrs: cloneJson(template?.systemAttrs ?? {}),
      intermediateValues: new Map(template?.intermediateValues ?? []),
    };
    for (const [name, d] of Object.entries(trial.distributions)) this.checkCompatible(s, name, d);
    s.trialIds.push(trialId);
    if (isFinished(state)) freezeTrial(trial);
    this.trials.set(trialId, trial);
    this.trialStudy.set(trialId, studyId);
    return trialId;
  }

  async setTrialStateValues(trialId: number, state: TrialState, values?: number[] | null): Promise<boolean> {
    const t = this.trial(trialId);
    this.checkNotFinished(t);
    // Claiming a trial (-> RUNNING) succeeds only from WAITING: two workers racing for the same
    // enqueued trial see exactly one `true`.
    if (state === TrialState.RUNNING) {
      if (t.state !== TrialState.WAITING) return false;
      t.datetimeStart = new Date();
    }
    if (isFinished(state)) t.datetimeComplete = new Date();
    if (values !== undefined && values !== null) t.values = [...values];
    t.state = state;
    if (isFinished(state)) freezeTrial(t);
    return true;
  }

  async setTrialParam(trialId: number, name: string, internalValue: number, distribution: Distribution): Promise<void> {
    const t = this.trial(trialId);
    this.checkNotFinished(t);
    const s = this.study(this.trialStudy.get(trialId) as number);
    this.checkCompatible(s, name, distribution);
    if (!contains(distribution, internalValue)) {
      throw new Error(`parameter "${name}": internal value ${internalValue} is outside its distribution ${JSON.stringify(distribution)}`);
    }
    t.params[name] = toExternal(distribution, internalValue);
    t.distributions[name] = distribution;
  }

  async setTrialIntermediateValue(trialId: number, step: number, value: number): Promise<void> {
    const t = this.trial(trialId);
    this.checkNotFinished(t);
    t.intermediateValues.set(step, value);
  }

  async setTrialUserAttr(trialId: number, key: string, value: unknown): Promise<void> {
    const t = this.trial(trialId);
    this.checkNotFinished(t);
    t.userAttrs[key] = cloneJson(value);
  }

  async setTrialSystemAttr(trialId: number, key: string, value: unknown): Promise<void> {
    const t = this.trial(trialId);
    this.checkNotFinished(t);
    t.systemAttrs[key] = cloneJson(value);
  }

  async getTrial(trialId: number): Promise<FrozenTrial> {
    return snapshot(this.trial(trialId));
  }

  async getAllTrials(studyId: number, states?: TrialState[]): Promise<FrozenTrial[]> {
    const s = this.study(studyId);
    const out: FrozenTrial[] = [];
    for (const id of s.trialIds) {
      const t = this.trials.get(id) as FrozenTrial;
      if (!states || states.includes(t.state)) out.push(snapshot(t));
    }
    return out;
  }

  async getTrialIdFromStudyIdTrialNumber(studyId: number, trialNumber: number): Promise<number> {
    const id = this.study(studyId).trialIds[trialNumber];
    if (id === undefined) throw new Error(`study ${studyId} has no trial number ${trialNumber}`);
    return id;
  }

  async close(): Promise<void> {}

  private study(studyId: number): StudyRecord {
    const s = this.studies.get(studyId);
    if (!s) throw new StudyNotFoundError(`no study with id ${studyId}`);
    return s;
  }

  private trial(trialId: number): FrozenTrial {
    const t = this.trials.get(trialId);
    if (!t) throw new Error(`no trial with id ${trialId}`);
    return t;
  }

  private checkNotFinished(t: FrozenTrial): void {
    if (isFinished(t.state)) {
      throw new StaleTrialError(`trial ${t.number} (id ${t.trialId}) is already ${TrialState[t.state]} and cannot be changed`);
    }
  }

  private checkCompatible(s: StudyRecord, name: string, d: Distribution): void {
    const prev = s.paramDistributions.get(name);
    if (!prev) {
      s.paramDistributions.set(name, d);
      return;
    }
    // Same kind is enough (ranges may change between trials, as in Optuna); a categorical must keep its choices.
    if (prev.kind !== d.kind || (d.kind === 'categorical' && !sameDistribution(prev, d))) {
      throw new Error(
        `parameter "${name}": distribution ${JSON.stringify(d)} is incompatible with ${JSON.stringify(prev)} used by earlier trials`,
      );
    }
  }
}

/**
 * Finished trials never change, so they are frozen once and shared (samplers read every finished
 * trial on every ask: copying them each time would dominate the cost of a 1,000-trial study).
 */
function snapshot(t: FrozenTrial): FrozenTrial {
  return Object.isFrozen(t) ? t : copyTrial(t);
}

function freezeTrial(t: FrozenTrial): void {
  if (t.values) Object.freeze(t.values);
  Object.freeze(t.params);
  Object.freeze(t.distributions);
  Object.freeze(t.userAttrs);
  Object.freeze(t.systemAttrs);
  Object.freeze(t);
}

export function copyTrial(t: FrozenTrial): FrozenTrial {
  return {
    ...t,
    values: t.values ? [...t.values] : null,
    datetimeStart: t.datetimeStart ? new Date(t.datetimeStart) : null,
    datetimeComplete: t.datetimeComplete ? new Date(t.datetimeComplete) : null,
    params: { ...t.params },
    distributions: { ...t.distributions },
    userAttrs: cloneJson(t.userAttrs),
    systemAttrs: cloneJson(t.systemAttrs),
    intermediateValues: new Map(t.intermediateValues),
  };
}

/**
 * Deep copy of a JSON-like attribute value (what every storage can persist). Much cheaper than
 * structuredClone for the small objects attributes hold, and this runs on every trial read.
 */
export function cloneJson<T>(v: T): T {
  if (v === null || typeof v !== 'object') return v;
  if (Array.isArray(v)) return v.map(cloneJson) as T;
  if (v instanceof Date) return new Date(v) as T;
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) out[k] = cloneJson(x);
  return out as T;
}
