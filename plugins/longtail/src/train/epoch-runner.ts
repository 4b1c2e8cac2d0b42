import { TrialFailed } from '@iccl/trainer-api';
import { makeLoader, type Batch, type LoaderOptions } from '../data/loader';
import { lrAt, type LrSchedule } from '../models/schedule';
import { makeSampler } from '../samplers/make-sampler';
import type { SamplerKind, SamplerOptions } from '../samplers/sampler';
import type { StepOutcome } from './step';
import { finiteOnly, type TrialEvaluation } from './trial-metrics';
import type { TrainingState } from './training-state';
import type { Trial } from './trial-setup';

/** One sampler over the training images and the augmentation seed of its loader. */
export interface BatchStream {
  kind: SamplerKind;
  sampler: SamplerOptions;
  augmentSeed: number;
}

/** What one epoch's steps added up to. */
export interface EpochTotals {
  /** sums of the step losses ('loss') and of each named term */
  sums: Record<string, number>;
  nSteps: number;
  /** the learning rate of the last step (the epoch's start when it had none) */
  lr: number;
  imagesPerS: number;
}

/** What differs between stage 1 and cRT; the epoch runner does the rest the same way for both. */
export interface StageSpec {
  stage: 1 | 2;
  /** how messages name the stage: 'stage 1', 'stage 2 (cRT)' */
  name: string;
  epochs: number;
  /** the metrics step of this stage's epoch e is epochOffset + e + 1 */
  epochOffset: number;
  schedule: LrSchedule;
  /** batch A, and the batch B drawn in parallel by two-batch methods */
  primary: BatchStream;
  partner: BatchStream | null;
  beforeEpoch?(epoch: number): Promise<void>;
  /** one optimisation step on host batches; a non-finite outcome must have updated nothing */
  step(a: Batch, b: Batch | null, at: { epoch: number; step: number }, lr: number): StepOutcome | Promise<StepOutcome>;
  /** the details of the TrialFailed of a non-finite loss, besides stage, epoch, step and loss */
  failureDetails(o: StepOutcome): Record<string, number>;
  afterEpoch?(epoch: number): void;
  trainMetrics(epoch: number, t: EpochTotals): Record<string, number>;
  /** the epoch's log line; `val` is the validation of this epoch, or null when it was not due */
  progress(epoch: number, train: Record<string, number>, val: Record<string, number> | null): string;
}

class AbortedError extends Error {
  constructor(where: string, checkpoint: string) {
    super(`training aborted ${where}; the checkpoint of the last completed epoch is in ${checkpoint}`);
    this.name = 'AbortError';
  }
}

/** Steps of an epoch: whole batches of the sampler's epoch, capped by maxStepsPerEpoch. */
export function stepBudget(epochLength: number, batchSize: number, maxStepsPerEpoch: number): number {
  const steps = Math.floor(epochLength / batchSize);
  return maxStepsPerEpoch > 0 ? Math.min(steps, maxStepsPerEpoch) : steps;
}

/** Whether epoch `epoch` (0-based) of `epochs` ends with a validation: every `evalEvery`, and the last. */
export function evaluationDue(epoch: number, epochs: number, evalEvery: number): boolean {
  return (epoch + 1) % evalEvery === 0 || epoch === epochs - 1;
}

/**
 * Runs the epochs of a stage from the state's next epoch: train, then the same end of epoch for
 * every stage (train metrics, validation when due, checkpoint, log line, report to the pruner).
 */
export class EpochRunner {
  /** the loader options every training loader shares (each epoch adds its epoch and seed) */
  private readonly loaderBase: Omit<LoaderOptions, 'epoch' | 'seed'>;

  constructor(
    private readonly t: Trial,
    private readonly state: TrainingState,
    private readonly evals: TrialEvaluation,
  ) {
    const { p, ctx } = t;
    this.loaderBase = { batchSize: p.batchSize, train: true, workers: p.workers, signal: ctx.signal, dropLast: true, log: ctx.log };
  }

  async run(spec: StageSpec): Promise<void> {
    for (let epoch = this.state.startEpoch; epoch < spec.epochs; epoch++) {
      const totals = await this.train(spec, epoch);
      await this.endEpoch(spec, epoch, totals);
    }
  }

  private open(spec: StageSpec, epoch: number) {
    const { data, p } = this.t;
    const sampler = (s: BatchStream) => makeSampler(s.kind, data.train.labels, data.description.numClasses, s.sampler);
    const loader = (s: BatchStream, sam = sampler(s)) => makeLoader(data.train, sam, { ...this.loaderBase, epoch, seed: s.augmentSeed });
    const samplerA = sampler(spec.primary);
    const loaderA = loader(spec.primary, samplerA);
    const itB = spec.partner ? loader(spec.partner)[Symbol.asyncIterator]() : null;
    return { loaderA, itB, steps: stepBudget(samplerA.epochLength, p.batchSize, p.maxStepsPerEpoch) };
  }

  private async train(spec: StageSpec, epoch: number): Promise<EpochTotals> {
    const { ctx } = this.t;
    await spec.beforeEpoch?.(epoch);
    const { loaderA, itB, steps } = this.open(spec, epoch);
    const sums: Record<string, number> = {};
    let nSteps = 0;
    let images = 0;
    let lr = lrAt(spec.schedule, epoch);
    const t0 = Date.now();
    let step = 0;
    for await (const rawA of loaderA) {
      if (step >= steps) break;
      if (ctx.signal.aborted) throw new AbortedError(`in stage ${spec.stage}, epoch ${epoch}, step ${step}`, this.state.ckptDir);
      let rawB: Batch | null = null;
      if (itB) {
        const r = await itB.next();
        if (r.done) break; // the second sampler ran dry (skipped images): end the epoch here
        rawB = r.value;
      }
      if (rawA.n < 2 || (rawB && rawB.n < 2)) continue;
      lr = lrAt(spec.schedule, epoch + step / steps);
      const outcome = await spec.step(rawA, rawB, { epoch, step }, lr);
      if (!outcome.finite) throw nonFiniteLoss(spec, epoch, step, lr, outcome);
      ctx.onStep?.({ stage: spec.stage, epoch, step, loss: outcome.loss, terms: outcome.terms });
      sums.loss = (sums.loss ?? 0) + outcome.loss;
      for (const [k, v] of Object.entries(outcome.terms)) sums[k] = (sums[k] ?? 0) + v;
      images += rawA.n + (rawB?.n ?? 0);
      nSteps++;
      step++;
    }
    if (ctx.signal.aborted) throw new AbortedError(`in stage ${spec.stage}, epoch ${epoch}`, this.state.ckptDir);
    await itB?.return?.(undefined);
    spec.afterEpoch?.(epoch);
    const seconds = Math.max(1e-3, (Date.now() - t0) / 1000);
    return { sums, nSteps, lr, imagesPerS: images / seconds };
  }

  private async endEpoch(spec: StageSpec, epoch: number, totals: EpochTotals): Promise<void> {
    const { p, ctx } = this.t;
    const trainMetrics = spec.trainMetrics(epoch, totals);
    const due = evaluationDue(epoch, spec.epochs, p.evalEvery);
    const globalEpoch = spec.epochOffset + epoch + 1;
    await this.evals.logEpoch(globalEpoch, trainMetrics, due);
    await this.state.checkpoint(spec.stage, epoch + 1);
    const lastEval = this.state.lastEval;
    ctx.log.info(spec.progress(epoch, trainMetrics, due && lastEval ? lastEval : null));
    if (due && lastEval) await ctx.report(globalEpoch, finiteOnly(lastEval));
  }
}

function nonFiniteLoss(spec: StageSpec, epoch: number, step: number, lr: number, o: StepOutcome): TrialFailed {
  const detail = Object.entries(o.terms).map(([k, v]) => `${k}=${v}`).join(', ');
  return new TrialFailed(`non-finite loss in ${spec.name} at epoch ${epoch}, step ${step} (lr ${lr}): loss=${o.loss}${detail ? ` (${detail})` : ''}`, {
    stage: spec.stage,
    epoch,
    step,
    loss: o.loss,
    ...spec.failureDetails(o),
  });
}
