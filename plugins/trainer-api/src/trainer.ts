import type { Logger } from './logger';
import type { ParamSchema, ParamValues } from './params';
import type { Tracker } from './tracker';

/**
 * Thrown by `TrialContext.report` when the driver's pruner stops the trial. Trainers let it
 * propagate (after saving what they must); the driver records the trial as pruned at `step`.
 */
export class TrialPruned extends Error {
  constructor(
    readonly step: number,
    readonly value?: number,
  ) {
    super(`trial pruned at step ${step}`);
    this.name = 'TrialPruned';
  }
}

/** Thrown when training cannot go on (non-finite loss, bad data): the trial fails with this reason. */
export class TrialFailed extends Error {
  constructor(
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'TrialFailed';
  }
}

/** One optimisation step as a trainer saw it: its loss and the loss's named terms. */
export interface StepRecord {
  /** 1 for stage 1 (representation), 2 for a second stage such as cRT */
  stage: number;
  /** 0-based epoch within the stage, and step within the epoch */
  epoch: number;
  step: number;
  loss: number;
  terms: Record<string, number>;
}

/** What a trainer sees of the world that runs it. */
export interface TrialContext {
  /** Unique id of the trial within its study (or of a standalone run). */
  readonly trialId: string;
  /** Folder the trainer owns: checkpoints, artifacts before upload. Reused on resume. */
  readonly workDir: string;
  /** Aborted on Ctrl-C or a time limit: stop between steps, leave a usable checkpoint. */
  readonly signal: AbortSignal;
  /** Intermediate objective values (e.g. per epoch). Throws TrialPruned when the pruner says stop. */
  report(step: number, metrics: Record<string, number>): Promise<void>;
  readonly tracker: Tracker;
  readonly log: Logger;
  /**
   * Optional observer of every optimisation step, called after the step is applied (golden traces,
   * re-verification of a recorded run). Most callers leave it unset; it must not throw.
   */
  readonly onStep?: (s: StepRecord) => void;
}

export interface TrialResult {
  /** Final metrics; the driver takes its objective(s) from here by name. */
  metrics: Record<string, number>;
  /** The value the trainer considers its objective, when the caller names none. */
  objective?: number;
  /** Paths of files written under workDir and logged as artifacts. */
  artifacts?: string[];
}

export interface TrainerPlugin<S extends ParamSchema = ParamSchema> {
  readonly name: string;
  readonly version: string;
  readonly description?: string;
  readonly params: S;
  train(params: ParamValues<S>, ctx: TrialContext): Promise<TrialResult>;
}

/** Identity with type inference: `export const plugin = definePlugin({...})`. */
export function definePlugin<S extends ParamSchema>(plugin: TrainerPlugin<S>): TrainerPlugin<S> {
  return plugin;
}

/** Accepts a module's `plugin` export, its default export, or the module itself. */
export function pluginFromModule(mod: unknown, where: string): TrainerPlugin {
  const m = mod as Record<string, unknown> | undefined;
  const candidates = [m?.plugin, m?.default, (m?.default as Record<string, unknown> | undefined)?.plugin, m];
  for (const c of candidates) {
    const p = c as Partial<TrainerPlugin> | undefined;
    if (p && typeof p.name === 'string' && typeof p.train === 'function' && p.params && typeof p.params === 'object') {
      return p as TrainerPlugin;
    }
  }
  throw new Error(`${where} does not export a trainer plugin (expected an export "plugin" with name, params and train())`);
}
