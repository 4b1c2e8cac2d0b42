import * as path from 'node:path';
import type { TrialResult } from '@iccl/trainer-api';
import { writePerClassCsv } from '../eval/per-class-csv';
import { EpochRunner } from './epoch-runner';
import { crtSpec, stage1Spec } from './stages';
import { TrialEvaluation } from './trial-metrics';
import { finishTrial } from './trial-result';
import { openTrial, type TwoStageOptions } from './trial-setup';
import { fingerprint, TrainingState } from './training-state';

export { datasetSpec, type TwoStageOptions } from './trial-setup';

/**
 * The shared two-stage loop: stage 1 trains backbone + classifier (+ method heads) with the method's
 * loss; stage 2 (cRT, when crtEpochs > 0) freezes the backbone, re-initialises the classifier and
 * trains it under the class-balanced sampler with a cosine schedule. Checkpoints after every epoch,
 * resumes from the last one, evaluates every `evalEvery` epochs and reports to `ctx`.
 */
export async function runTwoStage(o: TwoStageOptions): Promise<TrialResult> {
  const t = await openTrial(o);
  const { p, ctx, data } = t;
  const state = new TrainingState(t.net, t.method, p, ctx.workDir, fingerprint(o.trainer, p, o.methodParams));
  try {
    await state.resume(ctx.log);
    const evals = new TrialEvaluation(t, state);
    const epochs = new EpochRunner(t, state, evals);
    const stage1 = stage1Spec(t, state);
    if (state.stage === 1) {
      await epochs.run(stage1);
      if (p.crtEpochs > 0) {
        // The stage-1 classifier on test, once, before cRT replaces it (a stage-1-only baseline can be
        // read from a two-stage run: stage1_test/* and its per-class table).
        const acc1 = await evals.testOnce('stage1_test', p.epochs);
        await writePerClassCsv(path.join(ctx.workDir, 'per_class_accuracy_stage1.csv'), acc1, data.description.trainCounts, data.description.classNames);
        await state.enterCrt();
      }
    }
    // The classifier's variables are taken after enterCrt has re-initialised it.
    if (state.stage === 2) await epochs.run(crtSpec(t, state));
    return await finishTrial(t, state, evals);
  } finally {
    state.dispose();
  }
}
