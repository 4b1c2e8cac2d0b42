import type { ShotAccuracy } from '../eval/shot-accuracy';
import { evaluate } from './evaluate';
import { seedFrom } from './random';
import { STREAM } from './streams';
import type { TrainingState } from './training-state';
import type { Trial } from './trial-setup';

/** val/*: the validation split, during training (what a search selects on); test/* and stage1_test/*: the test split, read once each. */
export type AccPrefix = 'val' | 'test' | 'stage1_test';

export function accMetrics(prefix: AccPrefix, acc: ShotAccuracy): Record<string, number> {
  return { [`${prefix}/top1`]: acc.top1, [`${prefix}/many`]: acc.many, [`${prefix}/medium`]: acc.medium, [`${prefix}/few`]: acc.few };
}

/** Finite numbers only: trackers and pruners must not see NaN (a group without classes). */
export function finiteOnly(m: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(m).filter(([, v]) => Number.isFinite(v)));
}

/** Per-term sums of an epoch's step losses as train/loss, train/loss_<term> means. */
export function lossMeans(sums: Record<string, number>, nSteps: number): Record<string, number> {
  const m: Record<string, number> = {};
  for (const [k, v] of Object.entries(sums)) m[k === 'loss' ? 'train/loss' : `train/loss_${k}`] = v / Math.max(1, nSteps);
  return m;
}

/**
 * The trial's evaluations: validation at the end of an epoch when due (logged with the epoch's
 * train/* metrics, kept in the state for checkpoints and reports) and the test split, once per stage.
 */
export class TrialEvaluation {
  constructor(
    private readonly t: Trial,
    private readonly state: TrainingState,
  ) {}

  evaluateOn(split: 'val' | 'test'): Promise<ShotAccuracy> {
    const { net, data, p, ctx } = this.t;
    return evaluate(net, data, { batchSize: p.batchSize, seed: seedFrom(p.seed, STREAM.eval), workers: p.workers, signal: ctx.signal, split });
  }

  /** Logs `trainMetrics` at `globalEpoch`, with val/* when `due` (then also the state's latest validation). */
  async logEpoch(globalEpoch: number, trainMetrics: Record<string, number>, due: boolean): Promise<void> {
    const metrics = { ...trainMetrics };
    if (due) {
      this.state.lastAcc = await this.evaluateOn('val');
      this.state.lastEval = accMetrics('val', this.state.lastAcc);
      Object.assign(metrics, this.state.lastEval);
    }
    this.t.ctx.tracker.logMetrics(finiteOnly(metrics), globalEpoch);
  }

  /** The test split, once at the end of a stage: logged under `prefix` at `globalEpoch`. */
  async testOnce(prefix: 'test' | 'stage1_test', globalEpoch: number): Promise<ShotAccuracy> {
    const acc = await this.evaluateOn('test');
    this.t.ctx.tracker.logMetrics(finiteOnly(accMetrics(prefix, acc)), globalEpoch);
    return acc;
  }
}
