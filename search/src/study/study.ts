import { TrialPruned } from '@iccl/trainer-api';
import type { Pruner } from '../pruners/base';
import type { Sampler } from '../samplers/base';
import { StaleTrialError, TrialAlreadyFinishedError, type Storage } from '../storages/base';
import type { Distribution, ParamValue } from './distributions';
import { paretoFront } from './pareto';
import { FIXED_PARAMS_ATTR, Trial } from './trial';
import { isFinished, lastStep, StudyDirection, TrialState, type FrozenTrial } from './trial-types';

/** What `tell` accepts: the objective value(s), or a final state (with values for COMPLETE). */
export type TellResult = number | number[] | { state: TrialState; values?: number | number[] | null };

export interface OptimizeOptions {
  nTrials?: number;
  /** Seconds; no new trial starts after this. */
  timeout?: number;
  /** Error classes that fail the trial but do not stop the study (others are rethrown). */
  catch?: readonly (new (...args: never[]) => Error)[];
  /** Trials run concurrently in this process (useful when the objective awaits I/O). Default 1. */
  nJobs?: number;
  callbacks?: readonly ((study: Study, trial: FrozenTrial) => void | Promise<void>)[];
}

export type Objective = (trial: Trial) => Promise<number | number[]> | number | number[];

export interface GetTrialsOptions {
  states?: TrialState[];
  /**
   * Reuse the list read at the start of the current ask (samplers call this once per parameter;
   * trials finished by other workers in between are picked up at the next ask, as in Optuna).
   */
  useCache?: boolean;
}

/**
 * A study: an objective's trials in one storage, with a sampler that proposes parameters and a
 * pruner that stops unpromising trials. It only talks to those three through their interfaces.
 */
export class Study {
  private cachedTrials: FrozenTrial[] | null = null;
  private stopRequested = false;

  constructor(
    readonly studyName: string,
    readonly studyId: number,
    readonly storage: Storage,
    readonly sampler: Sampler,
    readonly pruner: Pruner,
    /** Loaded once: directions never change after creation. */
    readonly directions: readonly StudyDirection[],
  ) {}

  get isMultiObjective(): boolean {
    return this.directions.length > 1;
  }

  /** The single objective's direction (throws for multi-objective studies). */
  get direction(): StudyDirection {
    if (this.isMultiObjective) throw new Error('study.direction: this study has several objectives; use study.directions');
    return this.directions[0];
  }

  async getTrials(opts: GetTrialsOptions = {}): Promise<FrozenTrial[]> {
    let all: FrozenTrial[];
    if (opts.useCache && this.cachedTrials) all = this.cachedTrials;
    else {
      all = await this.storage.getAllTrials(this.studyId);
      if (opts.useCache) this.cachedTrials = all;
    }
    return opts.states ? all.filter((t) => (opts.states as TrialState[]).includes(t.state)) : all.slice();
  }

  /** The best COMPLETE trial of a single-objective study. */
  async bestTrial(): Promise<FrozenTrial> {
    const dir = this.direction;
    const complete = await this.getTrials({ states: [TrialState.COMPLETE] });
    if (complete.length === 0) throw new Error(`study "${this.studyName}" has no complete trial yet`);
    let best = complete[0];
    for (const t of complete) {
      const v = (t.values as number[])[0];
      const b = (best.values as number[])[0];
      if (dir === StudyDirection.MAXIMIZE ? v > b : v < b) best = t;
    }
    return best;
  }

  async bestValue(): Promise<number> {
    return ((await this.bestTrial()).values as number[])[0];
  }

  async bestParams(): Promise<Record<string, ParamValue>> {
    return (await this.bestTrial()).params;
  }

  /** The Pareto front of COMPLETE trials (for one objective: every trial with the best value). */
  async bestTrials(): Promise<FrozenTrial[]> {
    const complete = await this.getTrials({ states: [TrialState.COMPLETE] });
    return paretoFront(complete, this.directions);
  }

  /**
   * Starts a trial: claims the oldest WAITING (enqueued) trial if any, else creates one, then lets
   * the sampler draw its relative parameters. `fixedDistributions` are suggested at once
   * (Optuna's ask(fixed_distributions)).
   */
  async ask(fixedDistributions: Record<string, Distribution> = {}): Promise<Trial> {
    return (await this.tryAsk(() => this.storage.createNewTrial(this.studyId), fixedDistributions))!;
  }

  /**
   * ask(), with the new trial (when no WAITING one is left) made by `createTrial`, which may refuse
   * with null (e.g. a budget claimed atomically in the storage); then no trial starts and this is null.
   */
  async tryAsk(createTrial: () => Promise<number | null>, fixedDistributions: Record<string, Distribution> = {}): Promise<Trial | null> {
    this.cachedTrials = null;
    let trialId = await this.popWaitingTrial();
    if (trialId === null) trialId = await createTrial();
    if (trialId === null) return null;
    let frozen = await this.storage.getTrial(trialId);
    if (this.sampler.beforeTrial) {
      await this.sampler.beforeTrial(this, frozen);
      frozen = await this.storage.getTrial(trialId);
    }
    const space = await this.sampler.inferRelativeSearchSpace(this, frozen);
    const relative = Object.keys(space).length ? await this.sampler.sampleRelative(this, frozen, space) : {};
    const fixed = (frozen.systemAttrs[FIXED_PARAMS_ATTR] as Record<string, ParamValue> | undefined) ?? {};
    const trial = new Trial(this, trialId, frozen.number, fixed, relative, space);
    for (const [name, d] of Object.entries(fixedDistributions)) {
      if (d.kind === 'categorical') await trial.suggestCategorical(name, d.choices);
      else if (d.kind === 'int') await trial.suggestInt(name, d.low, d.high, { log: d.log, step: d.step });
      else await trial.suggestFloat(name, d.low, d.high, { log: d.log, step: d.step });
    }
    return trial;
  }

  /**
   * Finishes a trial. Values that are not finite, or the wrong count, fail the trial (as Optuna
   * does) rather than poison the sampler. A PRUNED trial keeps its last intermediate value as its
   * value, so samplers can rank it by progress. Returns the finished snapshot.
   */
  async tell(trial: Trial | number, result: TellResult): Promise<FrozenTrial> {
    const trialId = typeof trial === 'number' ? await this.storage.getTrialIdFromStudyIdTrialNumber(this.studyId, trial) : trial.trialId;
    const current = await this.storage.getTrial(trialId);
    if (isFinished(current.state)) {
      throw new TrialAlreadyFinishedError(current.number, current.state);
    }
    let state: TrialState;
    let values: number[] | null;
    if (typeof result === 'number' || Array.isArray(result)) {
      state = TrialState.COMPLETE;
      values = typeof result === 'number' ? [result] : [...result];
    } else {
      state = result.state;
      const v = result.values;
      values = v === undefined || v === null ? null : typeof v === 'number' ? [v] : [...v];
    }
    let failReason: string | null = null;
    if (state === TrialState.RUNNING || state === TrialState.WAITING) {
      throw new Error(`tell: state must be COMPLETE, PRUNED or FAIL, got ${TrialState[state]}`);
    }
    if (state === TrialState.COMPLETE) {
      if (values === null) throw new Error('tell: a COMPLETE trial needs values');
      if (values.length !== this.directions.length) {
        failReason = `the objective returned ${values.length} value(s) for a study with ${this.directions.length} objective(s)`;
      } else if (values.some((x) => typeof x !== 'number' || !Number.isFinite(x))) {
        failReason = `the objective returned a non-finite value ${JSON.stringify(values)}`;
      }
      if (failReason !== null) {
        state = TrialState.FAIL;
        values = null;
      }
    } else if (state === TrialState.PRUNED) {
      const step = lastStep(current);
      values = step === null ? null : [current.intermediateValues.get(step) as number];
      if (values && !Number.isFinite(values[0])) values = null;
    } else {
      values = null;
    }
    if (failReason !== null) await this.storage.setTrialSystemAttr(trialId, 'fail_reason', failReason);
    if (this.sampler.afterTrial) await this.sampler.afterTrial(this, current, state, values);
    const ok = await this.storage.setTrialStateValues(trialId, state, values);
    if (!ok) throw new Error(`tell: trial ${current.number} could not be set to ${TrialState[state]}`);
    this.cachedTrials = null;
    return this.storage.getTrial(trialId);
  }

  /**
   * Adds a WAITING trial whose suggest calls return `params` (warm start, or points to re-check).
   * Parameters the objective asks for but `params` lacks are drawn by the sampler.
   */
  async enqueueTrial(
    params: Record<string, ParamValue>,
    opts: { userAttrs?: Record<string, unknown>; skipIfExists?: boolean } = {},
  ): Promise<void> {
    if (opts.skipIfExists) {
      const all = await this.getTrials();
      const same = (t: FrozenTrial): boolean => {
        const p = (t.systemAttrs[FIXED_PARAMS_ATTR] as Record<string, ParamValue> | undefined) ?? t.params;
        const keys = Object.keys(params);
        return keys.length === Object.keys(p).length && keys.every((k) => p[k] === params[k]);
      };
      if (all.some(same)) return;
    }
    await this.storage.createNewTrial(this.studyId, {
      state: TrialState.WAITING,
      systemAttrs: { [FIXED_PARAMS_ATTR]: { ...params } },
      userAttrs: opts.userAttrs ?? {},
    });
  }

  /** Runs `objective` for nTrials trials or until `timeout` seconds, in this process. */
  async optimize(objective: Objective, opts: OptimizeOptions = {}): Promise<void> {
    const { nTrials, timeout } = opts;
    if (nTrials === undefined && timeout === undefined) {
      throw new Error('optimize: give nTrials or timeout (an endless study must be stopped by study.stop())');
    }
    if (nTrials !== undefined && (!Number.isInteger(nTrials) || nTrials < 0)) throw new Error(`optimize: nTrials must be a non-negative integer, got ${nTrials}`);
    const nJobs = opts.nJobs ?? 1;
    if (!Number.isInteger(nJobs) || nJobs < 1) throw new Error(`optimize: nJobs must be a positive integer, got ${nJobs}`);
    const started = Date.now();
    let launched = 0;
    this.stopRequested = false;
    const mayStart = (): boolean => {
      if (this.stopRequested) return false;
      if (nTrials !== undefined && launched >= nTrials) return false;
      if (timeout !== undefined && (Date.now() - started) / 1000 >= timeout) return false;
      return true;
    };
    const worker = async (): Promise<void> => {
      while (mayStart()) {
        launched++;
        const frozen = await this.runTrial(objective, opts.catch ?? []);
        for (const cb of opts.callbacks ?? []) await cb(this, frozen);
      }
    };
    await Promise.all(Array.from({ length: nJobs }, worker));
  }

  /** Makes optimize() start no new trial (running ones finish). */
  stop(): void {
    this.stopRequested = true;
  }

  async setUserAttr(key: string, value: unknown): Promise<void> {
    await this.storage.setStudyUserAttr(this.studyId, key, value);
  }

  async userAttrs(): Promise<Record<string, unknown>> {
    return this.storage.getStudyUserAttrs(this.studyId);
  }

  private async runTrial(objective: Objective, catchable: readonly (new (...args: never[]) => Error)[]): Promise<FrozenTrial> {
    const trial = await this.ask();
    let result: number | number[];
    try {
      result = await objective(trial);
    } catch (err) {
      if (err instanceof TrialPruned) return this.tell(trial, { state: TrialState.PRUNED });
      const message = err instanceof Error ? err.message : String(err);
      await this.storage.setTrialSystemAttr(trial.trialId, 'fail_reason', message);
      const frozen = await this.tell(trial, { state: TrialState.FAIL });
      if (catchable.some((c) => err instanceof c)) return frozen;
      throw err;
    }
    return this.tell(trial, result);
  }

  private async popWaitingTrial(): Promise<number | null> {
    const waiting = await this.storage.getAllTrials(this.studyId, [TrialState.WAITING]);
    for (const t of waiting) {
      // Another worker may claim the same trial between our read and this write: only one wins.
      try {
        if (await this.storage.setTrialStateValues(t.trialId, TrialState.RUNNING)) return t.trialId;
      } catch (err) {
        // ...and may even have finished it already.
        if (!(err instanceof StaleTrialError)) throw err;
      }
    }
    return null;
  }
}
