import * as path from 'node:path';
import type { TrialResult } from '@iccl/trainer-api';
import { writePerClassCsv } from '../eval/per-class-csv';
import type { Tensor } from '../models/tf';
import { saveTensors } from '../models/weights-io';
import { objectiveValue } from './objective';
import { accMetrics, finiteOnly, type TrialEvaluation } from './trial-metrics';
import type { TrainingState } from './training-state';
import type { Trial } from './trial-setup';

/** After the last stage: test once, the per-class table and the model as artifacts, the trial's result. */
export async function finishTrial(t: Trial, state: TrainingState, evals: TrialEvaluation): Promise<TrialResult> {
  const { p, ctx, data, net } = t;
  const d = data.description;
  // Validation chose nothing yet only on a resume after the last epoch's checkpoint: evaluate it again.
  const valAcc = state.lastAcc ?? (await evals.evaluateOn('val'));
  const acc = await evals.testOnce('test', p.epochs + p.crtEpochs);
  const artifacts: string[] = [];
  const csv = path.join(ctx.workDir, 'per_class_accuracy.csv');
  await writePerClassCsv(csv, acc, d.trainCounts, d.classNames);
  await ctx.tracker.logArtifact(csv);
  artifacts.push(csv);
  const modelDir = path.join(ctx.workDir, 'model');
  await saveTensors(
    modelDir,
    net.store.list().map((v) => ({ name: v.name, tensor: v.variable as Tensor })),
    { model: p.model, inputShape: data.inputShape, numClasses: d.numClasses, classNames: d.classNames, trainer: t.o.trainer },
  );
  for (const f of ['model.json', 'weights.bin']) {
    await ctx.tracker.logArtifact(path.join(modelDir, f), 'model');
    artifacts.push(path.join(modelDir, f));
  }
  // The objective is a validation number (what a search may choose by); the short names and test/* are the
  // test split's, read once, for reporting only.
  const objective = objectiveValue(valAcc, p.objective as 'top1' | 'few' | 'blend', p.objectiveFewWeight);
  const metrics = finiteOnly({ top1: acc.top1, many: acc.many, medium: acc.medium, few: acc.few, objective, ...accMetrics('val', valAcc), ...accMetrics('test', acc) });
  await ctx.tracker.flush();
  return { metrics, objective, artifacts };
}
