import * as crypto from 'node:crypto';
import { distributionToJson, toInternal, type Distribution } from '../../study/distributions';
import { isFinished, TrialState, type FrozenStudy, type FrozenTrial, type StudyDirection } from '../../study/trial-types';
import { DuplicatedStudyError, StaleTrialError, StudyNotFoundError, type Storage } from '../base';
import { JournalFileBackend } from './file-backend';
import type { JournalFileLock, LockKind } from './file-lock';
import { isoMicros, JournalOperation, type JournalLog } from './operations';
import { JournalReplay } from './replay';

export interface JournalStorageOptions {
  /** 'symlink' (Optuna's default), 'open', or a custom lock. */
  lock?: LockKind | JournalFileLock;
  /** Seconds after which an unchanged lock is broken (Optuna's default 30); null never. */
  graceSeconds?: number | null;
}

/** Deep copy at the boundary: callers must never see the replay state change under them. */
export function cloneTrial(t: FrozenTrial): FrozenTrial {
  return {
    ...t,
    values: t.values ? [...t.values] : null,
    params: { ...t.params },
    distributions: { ...t.distributions },
    userAttrs: structuredClone(t.userAttrs),
    systemAttrs: structuredClone(t.systemAttrs),
    intermediateValues: new Map(t.intermediateValues),
  };
}

/**
 * Storage over an Optuna journal file: each write appends one operation line under the file lock,
 * each read first replays the lines other processes appended. Writes check their preconditions
 * against the state replayed *under the lock*, so they are never silently dropped on replay.
 */
export class JournalStorage implements Storage {
  readonly backend: JournalFileBackend;
  readonly workerId = `${crypto.randomUUID()}-${process.pid}`;
  private readonly state = new JournalReplay(this.workerId);
  private offset = 0;
  /** Serialises this process's operations (their order in the file is their order here). */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    readonly file: string,
    options: JournalStorageOptions = {},
  ) {
    this.backend = new JournalFileBackend(file, { lock: options.lock, graceSeconds: options.graceSeconds });
    this.sync();
    this.repairTail();
  }

  /**
   * A broken last line found at load is a killed writer's leftover if no one holds the lock (else
   * it may be a write in progress): then cut it now. Where the lock cannot be had, a writer does it.
   */
  private repairTail(): void {
    if (this.backend.tailBytes(this.offset) === 0) return;
    const lock = this.backend.lock as { tryAcquire?: () => boolean };
    let held = false;
    try {
      held = lock.tryAcquire?.() ?? false;
    } catch {
      return; // e.g. a read-only folder: readers skip the tail anyway
    }
    if (!held) return;
    try {
      this.sync();
      this.backend.cutTailLocked(this.offset);
    } finally {
      this.backend.lock.release();
    }
  }

  private sync(): void {
    const { logs, offset } = this.backend.readFrom(this.offset, this.state.applied + 1);
    for (const l of logs) this.state.apply(l);
    this.offset = offset;
  }

  private serial<T>(fn: () => Promise<T> | T): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private read<T>(fn: (s: JournalReplay) => T): Promise<T> {
    return this.serial(() => {
      this.sync();
      return fn(this.state);
    });
  }

  /** Under the lock: catch up, let `check` throw or build the line, append it, apply it. */
  private write<T>(op: JournalOperation, build: (s: JournalReplay) => Record<string, unknown>, after: (s: JournalReplay) => T): Promise<T> {
    return this.serial(async () => {
      await this.backend.lock.acquire();
      try {
        this.sync();
        const fields = build(this.state);
        this.backend.appendLocked([{ op_code: op, worker_id: this.workerId, ...fields } as JournalLog], this.offset);
        this.sync();
        return after(this.state);
      } finally {
        this.backend.lock.release();
      }
    });
  }

  private study(s: JournalReplay, studyId: number): FrozenStudy {
    const st = s.studies.get(studyId);
    if (!st) throw new StudyNotFoundError(`no study with id ${studyId} in ${this.file}`);
    return st;
  }

  private liveTrial(s: JournalReplay, trialId: number): FrozenTrial {
    const t = s.trials[trialId];
    if (!t) throw new Error(`no trial with id ${trialId} in ${this.file}`);
    if (isFinished(t.state)) throw new StaleTrialError(`trial #${t.number} (id ${trialId}) is already ${TrialState[t.state]} and cannot be updated`);
    return t;
  }

  createStudy(directions: StudyDirection[], studyName: string): Promise<number> {
    return this.write(
      JournalOperation.CREATE_STUDY,
      (s) => {
        for (const st of s.studies.values()) if (st.studyName === studyName) throw new DuplicatedStudyError(`a study named "${studyName}" already exists in ${this.file}`);
        return { study_name: studyName, directions: directions.map(Number) };
      },
      (s) => [...s.studies.values()].find((st) => st.studyName === studyName)!.studyId,
    );
  }

  deleteStudy(studyId: number): Promise<void> {
    return this.write(JournalOperation.DELETE_STUDY, (s) => (this.study(s, studyId), { study_id: studyId }), () => undefined);
  }

  getStudyIdFromName(studyName: string): Promise<number> {
    return this.read((s) => {
      for (const st of s.studies.values()) if (st.studyName === studyName) return st.studyId;
      throw new StudyNotFoundError(`no study named "${studyName}" in ${this.file}`);
    });
  }
  getStudyNameFromId(studyId: number): Promise<string> {
    return this.read((s) => this.study(s, studyId).studyName);
  }
  getStudyDirections(studyId: number): Promise<StudyDirection[]> {
    return this.read((s) => [...this.study(s, studyId).directions]);
  }
  getAllStudies(): Promise<FrozenStudy[]> {
    return this.read((s) => [...s.studies.values()].map((st) => structuredClone(st)));
  }
  setStudyUserAttr(studyId: number, key: string, value: unknown): Promise<void> {
    return this.write(JournalOperation.SET_STUDY_USER_ATTR, (s) => (this.study(s, studyId), { study_id: studyId, user_attr: { [key]: value } }), () => undefined);
  }
  setStudySystemAttr(studyId: number, key: string, value: unknown): Promise<void> {
    return this.write(JournalOperation.SET_STUDY_SYSTEM_ATTR, (s) => (this.study(s, studyId), { study_id: studyId, system_attr: { [key]: value } }), () => undefined);
  }
  getStudyUserAttrs(studyId: number): Promise<Record<string, unknown>> {
    return this.read((s) => structuredClone(this.study(s, studyId).userAttrs));
  }
  getStudySystemAttrs(studyId: number): Promise<Record<string, unknown>> {
    return this.read((s) => structuredClone(this.study(s, studyId).systemAttrs));
  }

  createNewTrial(studyId: number, template?: Partial<FrozenTrial>): Promise<number> {
    return this.write(
      JournalOperation.CREATE_TRIAL,
      (s) => {
        this.study(s, studyId);
        const fields: Record<string, unknown> = { study_id: studyId, datetime_start: isoMicros(new Date()) };
        if (!template) return fields;
        const state = template.state ?? TrialState.RUNNING;
        const values = template.values ?? null;
        fields.state = state;
        fields.value = values && values.length === 1 ? values[0] : null;
        fields.values = values && values.length > 1 ? values : null;
        fields.datetime_start = template.datetimeStart ? isoMicros(template.datetimeStart) : state === TrialState.WAITING ? null : fields.datetime_start;
        if (template.datetimeComplete) fields.datetime_complete = isoMicros(template.datetimeComplete);
        else if (isFinished(state)) fields.datetime_complete = isoMicros(new Date());
        const dists = template.distributions ?? {};
        // Optuna stores each distribution as a JSON *string* inside the line.
        fields.distributions = Object.fromEntries(Object.entries(dists).map(([k, d]) => [k, JSON.stringify(distributionToJson(d))]));
        fields.params = Object.fromEntries(Object.entries(template.params ?? {}).map(([k, v]) => [k, toInternal(dists[k], v)]));
        fields.user_attrs = template.userAttrs ?? {};
        fields.system_attrs = template.systemAttrs ?? {};
        fields.intermediate_values = Object.fromEntries(template.intermediateValues ?? new Map());
        return fields;
      },
      (s) => s.lastCreatedTrialId,
    );
  }

  /** Counted and appended under the file lock, after catching up: no other writer in between. */
  createTrialWithinLimit(studyId: number, limit: number, exemptAttr: string): Promise<number | null> {
    let full = false;
    return this.write(
      JournalOperation.CREATE_TRIAL,
      (s) => {
        this.study(s, studyId);
        const counted = (s.studyTrialIds.get(studyId) ?? []).filter((id) => s.trials[id].systemAttrs[exemptAttr] === undefined).length;
        if (counted >= limit) {
          full = true;
          throw new Error('limit');
        }
        return { study_id: studyId, datetime_start: isoMicros(new Date()) };
      },
      (s): number | null => s.lastCreatedTrialId,
    ).catch((e: unknown) => {
      if (full) return null;
      throw e;
    });
  }

  setTrialStateValues(trialId: number, state: TrialState, values?: number[] | null): Promise<boolean> {
    let claimedByOther = false;
    return this.write(
      JournalOperation.SET_TRIAL_STATE_VALUES,
      (s) => {
        // A claim (WAITING -> RUNNING) of a trial someone else took, even one already finished, is
        // a lost race, not an error.
        if (state === TrialState.RUNNING && s.trials[trialId] && s.trials[trialId].state !== TrialState.WAITING) {
          claimedByOther = true;
          throw new StaleTrialError('claimed');
        }
        const t = this.liveTrial(s, trialId);
        const fields: Record<string, unknown> = { trial_id: trialId, state, values: values ?? null };
        if (state === TrialState.RUNNING) {
          if (t.state !== TrialState.WAITING) {
            claimedByOther = true;
            throw new StaleTrialError('claimed');
          }
          fields.datetime_start = isoMicros(new Date());
        } else if (isFinished(state)) fields.datetime_complete = isoMicros(new Date());
        return fields;
      },
      (s) => state !== TrialState.RUNNING || s.owned.has(trialId),
    ).catch((e: unknown) => {
      if (claimedByOther) return false;
      throw e;
    });
  }

  setTrialParam(trialId: number, name: string, internalValue: number, distribution: Distribution): Promise<void> {
    return this.write(
      JournalOperation.SET_TRIAL_PARAM,
      (s) => {
        this.liveTrial(s, trialId);
        return { trial_id: trialId, param_name: name, param_value_internal: internalValue, distribution: JSON.stringify(distributionToJson(distribution)) };
      },
      () => undefined,
    );
  }
  setTrialIntermediateValue(trialId: number, step: number, value: number): Promise<void> {
    return this.write(
      JournalOperation.SET_TRIAL_INTERMEDIATE_VALUE,
      (s) => (this.liveTrial(s, trialId), { trial_id: trialId, step, intermediate_value: value }),
      () => undefined,
    );
  }
  setTrialUserAttr(trialId: number, key: string, value: unknown): Promise<void> {
    return this.write(JournalOperation.SET_TRIAL_USER_ATTR, (s) => (this.liveTrial(s, trialId), { trial_id: trialId, user_attr: { [key]: value } }), () => undefined);
  }
  setTrialSystemAttr(trialId: number, key: string, value: unknown): Promise<void> {
    return this.write(JournalOperation.SET_TRIAL_SYSTEM_ATTR, (s) => (this.liveTrial(s, trialId), { trial_id: trialId, system_attr: { [key]: value } }), () => undefined);
  }

  getTrial(trialId: number): Promise<FrozenTrial> {
    return this.read((s) => {
      const t = s.trials[trialId];
      if (!t) throw new Error(`no trial with id ${trialId} in ${this.file}`);
      return cloneTrial(t);
    });
  }
  getAllTrials(studyId: number, states?: TrialState[]): Promise<FrozenTrial[]> {
    return this.read((s) => {
      this.study(s, studyId);
      const out: FrozenTrial[] = [];
      for (const id of s.studyTrialIds.get(studyId) ?? []) {
        const t = s.trials[id];
        if (!states || states.includes(t.state)) out.push(cloneTrial(t));
      }
      return out;
    });
  }
  getTrialIdFromStudyIdTrialNumber(studyId: number, trialNumber: number): Promise<number> {
    return this.read((s) => {
      const id = (s.studyTrialIds.get(studyId) ?? [])[trialNumber];
      if (id === undefined) throw new Error(`no trial number ${trialNumber} in study ${studyId} of ${this.file}`);
      return id;
    });
  }

  /** Heartbeats are a system attribute, so they survive in the file and need no side table. */
  recordHeartbeat(trialId: number): Promise<void> {
    return this.setTrialSystemAttr(trialId, 'heartbeat', isoMicros(new Date()));
  }
  getStaleTrialIds(studyId: number, graceSeconds: number): Promise<number[]> {
    return this.read((s) => {
      const now = Date.now();
      const out: number[] = [];
      for (const id of s.studyTrialIds.get(studyId) ?? []) {
        const t = s.trials[id];
        if (t.state !== TrialState.RUNNING) continue;
        const hb = t.systemAttrs.heartbeat;
        const last = typeof hb === 'string' ? new Date(hb).getTime() : (t.datetimeStart?.getTime() ?? now);
        if (now - last > graceSeconds * 1000) out.push(id);
      }
      return out;
    });
  }

  async close(): Promise<void> {
    await this.queue;
  }
}
