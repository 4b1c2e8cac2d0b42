import {
  contains,
  toExternal,
  toInternal,
  type CategoricalChoice,
  type Distribution,
  type ParamValue,
} from './distributions';
import { checkSuggestArgs } from './suggest-args';
import type { Study } from './study';
import { isFinished, type FrozenTrial } from './trial-types';

export interface SuggestOptions {
  log?: boolean;
  step?: number | null;
}

/** System attr (Optuna's name) where enqueued trials keep the parameters they must use. */
export const FIXED_PARAMS_ATTR = 'fixed_params';

/**
 * A running trial, as the objective sees it (define-by-run): each `suggest*` call declares a
 * parameter and returns its value for this trial, drawn by the study's sampler, taken from an
 * enqueued trial's fixed parameters, or the earlier value when asked twice.
 */
export class Trial {
  private readonly localParams: Record<string, ParamValue> = {};
  private readonly localDistributions: Record<string, Distribution> = {};
  private readonly reportedSteps = new Set<number>();

  constructor(
    readonly study: Study,
    readonly trialId: number,
    readonly number: number,
    private readonly fixedParams: Record<string, ParamValue>,
    /** Joint draw made when the trial started (internal values), and the space it covers. */
    private readonly relativeParams: Record<string, number>,
    private readonly relativeSearchSpace: Record<string, Distribution>,
  ) {}

  /** Parameters suggested so far (external values). */
  get params(): Record<string, ParamValue> {
    return { ...this.localParams };
  }

  get distributions(): Record<string, Distribution> {
    return { ...this.localDistributions };
  }

  async suggestFloat(name: string, low: number, high: number, opts: SuggestOptions = {}): Promise<number> {
    const d = checkSuggestArgs(name, 'float', low, high, opts) as Distribution;
    return (await this.suggest(name, d)) as number;
  }

  async suggestInt(name: string, low: number, high: number, opts: SuggestOptions = {}): Promise<number> {
    const d = checkSuggestArgs(name, 'int', low, high, opts) as Distribution;
    return (await this.suggest(name, d)) as number;
  }

  async suggestCategorical<T extends CategoricalChoice>(name: string, choices: readonly T[]): Promise<T> {
    if (!Array.isArray(choices) || choices.length === 0) {
      throw new Error(`suggestCategorical("${name}"): choices must be a non-empty array, got ${JSON.stringify(choices)}`);
    }
    for (const c of choices) {
      const ok = c === null || ['string', 'number', 'boolean'].includes(typeof c);
      if (!ok) throw new Error(`suggestCategorical("${name}"): choice ${String(c)} is not a string, number, boolean or null`);
    }
    return (await this.suggest(name, { kind: 'categorical', choices: [...choices] })) as T;
  }

  /**
   * Records an intermediate objective value (single-objective studies only). A second report at the
   * same step is ignored, as in Optuna: pruners compare trials step by step, so a step's value must
   * not change after the pruner may have seen it.
   */
  async report(step: number, value: number): Promise<void> {
    if (this.study.directions.length > 1) {
      throw new Error('trial.report: intermediate values are for single-objective studies (pruning is undefined for several objectives)');
    }
    if (!Number.isInteger(step) || step < 0) throw new Error(`trial.report: step must be a non-negative integer, got ${step}`);
    if (typeof value !== 'number') throw new Error(`trial.report: value must be a number, got ${JSON.stringify(value)}`);
    if (this.reportedSteps.has(step)) return;
    this.reportedSteps.add(step);
    await this.study.storage.setTrialIntermediateValue(this.trialId, step, value);
  }

  /** Asks the study's pruner whether this trial should stop after its latest report. */
  async shouldPrune(): Promise<boolean> {
    if (this.study.directions.length > 1) throw new Error('trial.shouldPrune: pruning is not supported for multi-objective studies');
    const frozen = await this.study.storage.getTrial(this.trialId);
    return this.study.pruner.prune(this.study, frozen);
  }

  async setUserAttr(key: string, value: unknown): Promise<void> {
    await this.study.storage.setTrialUserAttr(this.trialId, key, value);
  }

  async setSystemAttr(key: string, value: unknown): Promise<void> {
    await this.study.storage.setTrialSystemAttr(this.trialId, key, value);
  }

  /** A snapshot of this trial from storage. */
  async freeze(): Promise<FrozenTrial> {
    return this.study.storage.getTrial(this.trialId);
  }

  private async suggest(name: string, d: Distribution): Promise<ParamValue> {
    if (name in this.localParams) {
      const prev = this.localDistributions[name];
      if (prev.kind !== d.kind) {
        throw new Error(`parameter "${name}" was suggested as ${prev.kind} and is now asked as ${d.kind} in the same trial`);
      }
      return this.localParams[name];
    }
    let internal: number;
    if (name in this.fixedParams) {
      const fixed = this.fixedParams[name];
      internal = fixedToInternal(name, d, fixed);
    } else if (isSingleValued(d)) {
      internal = d.kind === 'categorical' ? 0 : d.low;
    } else if (name in this.relativeParams && name in this.relativeSearchSpace && sameKindAndRange(this.relativeSearchSpace[name], d)) {
      internal = this.relativeParams[name];
    } else {
      const frozen = await this.study.storage.getTrial(this.trialId);
      if (isFinished(frozen.state)) throw new Error(`trial ${this.number} is already finished: it cannot suggest "${name}"`);
      internal = await this.study.sampler.sampleIndependent(this.study, frozen, name, d);
    }
    await this.study.storage.setTrialParam(this.trialId, name, internal, d);
    const value = toExternal(d, internal);
    this.localParams[name] = value;
    this.localDistributions[name] = d;
    return value;
  }
}

function isSingleValued(d: Distribution): boolean {
  return d.kind === 'categorical' ? d.choices.length === 1 : d.low === d.high;
}

function sameKindAndRange(a: Distribution, b: Distribution): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

function fixedToInternal(name: string, d: Distribution, value: ParamValue): number {
  let internal: number;
  try {
    internal = toInternal(d, value);
  } catch {
    throw new Error(`enqueued parameter "${name}": ${JSON.stringify(value)} is not one of the choices ${JSON.stringify(d)}`);
  }
  if (typeof internal !== 'number' || !contains(d, internal)) {
    throw new Error(`enqueued parameter "${name}": ${JSON.stringify(value)} is outside the suggested range ${JSON.stringify(d)}`);
  }
  return internal;
}
