import * as fs from 'node:fs';
import * as path from 'node:path';
import { TrialFailed, type ParamValue, type TrialContext, type TrialResult } from '@iccl/trainer-api';
import { backendTags, loadTf } from '@iccl/tf-backend';
import { makeLoader, type Batch } from '../data/loader';
import { loadDataset } from '../data/load-dataset';
import type { DataSplit, DatasetKind, DatasetSpec } from '../data/types';
import { writePerClassCsv } from '../eval/per-class-csv';
import type { ShotAccuracy } from '../eval/shot-accuracy';
import { inferencePass } from '../models/layers';
import { crossEntropy } from '../models/losses';
import { buildNetwork, type Network } from '../models/network';
import { lrAt, parseLrSteps, type LrSchedule } from '../models/schedule';
import { SgdMomentum } from '../models/sgd';
import type { NamedVariable } from '../models/store';
import { type Tensor, type Tensor2D } from '../models/tf';
import { saveTensors } from '../models/weights-io';
import { makeSampler } from '../samplers/make-sampler';
import { readCheckpoint, restoreVariables, saveCheckpoint, type CheckpointMeta } from './checkpoint';
import { evaluate } from './evaluate';
import type { Stage1Method } from './method';
import { objectiveValue } from './objective';
import { type StepOutcome } from './step';
import { releaseStepEngine, stepEngineFor } from './compiled/engine';
import type { CommonParams } from './params';
import { Rng, seedFrom } from './random';
import { STREAM } from './streams';
import { accMetrics, finiteOnly } from './trial-metrics';
import { disposeBatch, toDevice } from './device-batch';

export interface TwoStageOptions {
  /** plugin name, recorded as a tag */
  trainer: string;
  params: CommonParams;
  /** the method's own parameters, logged and fingerprinted with the common ones */
  methodParams: Record<string, ParamValue>;
  makeMethod: (net: Network, data: DataSplit) => Stage1Method;
  ctx: TrialContext;
  /** a data split to use instead of loading `params.dataset` (tests, benches) */
  data?: DataSplit;
}

/** The data-set spec the common parameters describe. */
export function datasetSpec(p: CommonParams): DatasetSpec {
  return {
    kind: p.dataset as DatasetKind,
    dataDir: p.dataDir || undefined,
    imbalanceFactor: p.imbalanceFactor,
    seed: p.dataSeed,
    imageSize: p.imageSize || undefined,
    numClasses: p.dataset === 'synthetic' ? p.syntheticClasses : undefined,
    maxPerClass: p.maxPerClass || undefined,
    testPerClass: p.testPerClass || undefined,
    valPerClass: p.valPerClass || undefined,
    valSplit: p.valSplit,
    thresholds: { many: p.manyThreshold, few: p.fewThreshold },
  };
}

function fingerprint(trainer: string, p: CommonParams, m: Record<string, ParamValue>): string {
  // Parameters that do not change what is computed may differ between the run and its resumption
  // (recompute: the same gradients, only the memory differs, so a run may resume with it switched on).
  const { workers: _w, device: _d, evalEvery: _e, recompute: _r, ...rest } = p;
  return JSON.stringify({ trainer, ...rest, ...m });
}

class AbortedError extends Error {
  constructor(where: string, checkpoint: string) {
    super(`training aborted ${where}; the checkpoint of the last completed epoch is in ${checkpoint}`);
    this.name = 'AbortError';
  }
}

/**
 * The shared two-stage loop: stage 1 trains backbone + classifier (+ method heads) with the method's
 * loss; stage 2 (cRT, when crtEpochs > 0) freezes the backbone, re-initialises the classifier and
 * trains it under the class-balanced sampler with a cosine schedule. Checkpoints after every epoch,
 * resumes from the last one, evaluates every `evalEvery` epochs and reports to `ctx`.
 */
export async function runTwoStage(o: TwoStageOptions): Promise<TrialResult> {
  const { params: p, ctx } = o;
  const tf = loadTf(p.device);
  const log = ctx.log;
  ctx.tracker.setTags({ ...backendTags(), 'iccl.trainer': o.trainer });
  ctx.tracker.logParams({ ...p, ...o.methodParams });

  const data = o.data ?? (await loadDataset(datasetSpec(p), { signal: ctx.signal, log }));
  const d = data.description;
  ctx.tracker.logInput({
    name: d.name,
    digest: d.digest,
    source: d.source,
    context: 'train',
    profile: { numClasses: d.numClasses, trainCounts: d.trainCounts, testCounts: d.testCounts, imbalanceFactor: d.imbalanceFactor ?? null },
  });

  fs.mkdirSync(ctx.workDir, { recursive: true });
  const net = buildNetwork({ model: p.model, inputShape: data.inputShape, numClasses: d.numClasses, seed: seedFrom(p.seed, STREAM.init), width: p.width, recompute: p.recompute });
  let method: Stage1Method;
  try {
    method = o.makeMethod(net, data);
  } catch (e) {
    net.dispose();
    throw e;
  }
  const allVars = (): NamedVariable[] => [...net.store.list(), ...(method.store?.list() ?? [])];
  const fp = fingerprint(o.trainer, p, o.methodParams);
  const ckptDir = path.join(ctx.workDir, 'checkpoint');
  let opt = new SgdMomentum(p.momentum, p.weightDecay);
  let stage: 1 | 2 = 1;
  let startEpoch = 0;
  let lastEval: Record<string, number> | null = null;
  let lastAcc: ShotAccuracy | null = null;

  const disposeAll = () => {
    releaseStepEngine(method);
    opt.clear();
    method.dispose();
    net.dispose();
  };

  try {
    const ckpt = await readCheckpoint(ctx.workDir);
    if (ckpt) {
      try {
        if (ckpt.meta.fingerprint !== fp) {
          throw new Error(
            `${ckptDir}: checkpoint was written with other parameters; remove it or use another workDir to start afresh (saved: ${ckpt.meta.fingerprint}; now: ${fp})`,
          );
        }
        restoreVariables(allVars(), ckpt.tensors, ckptDir);
        opt.load(ckpt.tensors);
        method.loadState?.(ckpt.meta.methodState);
        stage = ckpt.meta.stage;
        startEpoch = ckpt.meta.epochsDone;
        lastEval = ckpt.meta.lastEval;
        log.info(`resuming from ${ckptDir}: stage ${stage}, epoch ${startEpoch}`);
      } finally {
        for (const t of ckpt.tensors.values()) t.dispose();
      }
    }

    const checkpoint = async (meta: Omit<CheckpointMeta, 'version' | 'fingerprint' | 'methodState' | 'lastEval'>) => {
      await saveCheckpoint(ctx.workDir, allVars(), opt.state(), {
        version: 1,
        fingerprint: fp,
        methodState: method.state?.() ?? {},
        lastEval,
        ...meta,
      });
    };

    const evaluateOn = (split: 'val' | 'test') =>
      evaluate(net, data, { batchSize: p.batchSize, seed: seedFrom(p.seed, STREAM.eval), workers: p.workers, signal: ctx.signal, split });
    const evalNow = async (globalEpoch: number, trainMetrics: Record<string, number>, due: boolean) => {
      const metrics = { ...trainMetrics };
      if (due) {
        lastAcc = await evaluateOn('val');
        lastEval = accMetrics('val', lastAcc);
        Object.assign(metrics, lastEval);
      }
      ctx.tracker.logMetrics(finiteOnly(metrics), globalEpoch);
      return due;
    };
    /** The test split, once at the end of a stage: logged under `prefix` at `globalEpoch`. */
    const testOnce = async (prefix: 'test' | 'stage1_test', globalEpoch: number) => {
      const acc = await evaluateOn('test');
      ctx.tracker.logMetrics(finiteOnly(accMetrics(prefix, acc)), globalEpoch);
      return acc;
    };

    // ---------------- stage 1 ----------------
    const schedule: LrSchedule = {
      kind: p.schedule as 'step' | 'cosine',
      lr: p.lr,
      epochs: p.epochs,
      warmupEpochs: p.warmupEpochs,
      steps: p.schedule === 'step' ? parseLrSteps(p.lrSteps, p.epochs) : undefined,
    };
    const labels = data.train.labels;
    const K = d.numClasses;
    if (stage === 1) {
      for (let epoch = startEpoch; epoch < p.epochs; epoch++) {
        await method.beforeEpoch?.(epoch, net);
        const samplerA = makeSampler(method.primarySampler, labels, K, { seed: seedFrom(p.seed, STREAM.samplerA) });
        const loaderA = makeLoader(data.train, samplerA, {
          batchSize: p.batchSize,
          epoch,
          train: true,
          seed: seedFrom(p.seed, STREAM.augment),
          workers: p.workers,
          signal: ctx.signal,
          dropLast: true,
          log,
        });
        const second = method.secondSampler;
        const samplerB = second
          ? makeSampler(second.kind, labels, K, { seed: seedFrom(p.seed, STREAM.samplerB), samplerRatio: second.samplerRatio })
          : null;
        const itB = samplerB
          ? makeLoader(data.train, samplerB, {
              batchSize: p.batchSize,
              epoch,
              train: true,
              seed: seedFrom(p.seed, STREAM.augment, 1),
              workers: p.workers,
              signal: ctx.signal,
              dropLast: true,
              log,
            })[Symbol.asyncIterator]()
          : null;
        let steps = Math.floor(samplerA.epochLength / p.batchSize);
        if (p.maxStepsPerEpoch > 0) steps = Math.min(steps, p.maxStepsPerEpoch);
        const rng = new Rng(seedFrom(p.seed, STREAM.mixing, epoch));
        const sums: Record<string, number> = {};
        let nSteps = 0;
        let images = 0;
        let lr = lrAt(schedule, epoch);
        const t0 = Date.now();
        let step = 0;
        for await (const rawA of loaderA) {
          if (step >= steps) break;
          if (ctx.signal.aborted) throw new AbortedError(`in stage 1, epoch ${epoch}, step ${step}`, ckptDir);
          let rawB: Batch | null = null;
          if (itB) {
            const r = await itB.next();
            if (r.done) break; // the second sampler ran dry (skipped images): end the epoch here
            rawB = r.value;
          }
          if (rawA.n < 2 || (rawB && rawB.n < 2)) continue;
          lr = lrAt(schedule, epoch + step / steps);
          const a = toDevice(rawA);
          const b = rawB ? toDevice(rawB) : null;
          const info = { epoch, step, rng };
          let outcome: StepOutcome;
          try {
            outcome = stepEngineFor(method, { engine: p.engine, recompute: p.recompute, precision: p.precision, log: (m) => log.info(m) }).step(net, method, opt, allVars(), a, b, info, lr);
          } finally {
            disposeBatch(a);
            disposeBatch(b);
          }
          const { loss, terms: termValues } = outcome;
          if (!outcome.finite) {
            const detail = Object.entries(termValues).map(([k, v]) => `${k}=${v}`).join(', ');
            throw new TrialFailed(`non-finite loss in stage 1 at epoch ${epoch}, step ${step} (lr ${lr}): loss=${loss}${detail ? ` (${detail})` : ''}`, {
              stage: 1,
              epoch,
              step,
              loss,
              ...termValues,
            });
          }
          ctx.onStep?.({ stage: 1, epoch, step, loss, terms: termValues });
          sums.loss = (sums.loss ?? 0) + loss;
          for (const [k, v] of Object.entries(termValues)) sums[k] = (sums[k] ?? 0) + v;
          images += rawA.n + (rawB?.n ?? 0);
          nSteps++;
          step++;
        }
        if (ctx.signal.aborted) throw new AbortedError(`in stage 1, epoch ${epoch}`, ckptDir);
        await itB?.return?.(undefined);
        method.afterEpoch?.(epoch);
        const seconds = Math.max(1e-3, (Date.now() - t0) / 1000);
        const trainMetrics: Record<string, number> = { 'train/lr': lr, 'train/images_per_s': images / seconds };
        for (const [k, v] of Object.entries(sums)) trainMetrics[k === 'loss' ? 'train/loss' : `train/loss_${k}`] = v / Math.max(1, nSteps);
        Object.assign(trainMetrics, method.epochMetrics?.(epoch, trainMetrics) ?? {});
        const last = epoch === p.epochs - 1;
        const due = (epoch + 1) % p.evalEvery === 0 || last;
        await evalNow(epoch + 1, trainMetrics, due);
        await checkpoint({ stage: 1, epochsDone: epoch + 1 });
        log.info(
          `stage 1 epoch ${epoch + 1}/${p.epochs} loss ${trainMetrics['train/loss']?.toFixed(4)} ${trainMetrics['train/images_per_s'].toFixed(1)} img/s` +
            (due && lastEval ? ` val top1 ${lastEval['val/top1'].toFixed(4)} few ${lastEval['val/few']}` : ''),
        );
        if (due && lastEval) await ctx.report(epoch + 1, finiteOnly(lastEval));
      }
      if (p.crtEpochs > 0) {
        // The stage-1 classifier on test, once, before cRT replaces it (a stage-1-only baseline can be
        // read from a two-stage run: stage1_test/* and its per-class table).
        const acc1 = await testOnce('stage1_test', p.epochs);
        await writePerClassCsv(path.join(ctx.workDir, 'per_class_accuracy_stage1.csv'), acc1, d.trainCounts, d.classNames);
        // Entering stage 2: new classifier, new optimiser; checkpoint so that a resume sees stage 2.
        net.classifier.reset(seedFrom(p.seed, STREAM.crtInit));
        opt.clear();
        opt = new SgdMomentum(p.momentum, p.weightDecay);
        stage = 2;
        startEpoch = 0;
        await checkpoint({ stage: 2, epochsDone: 0 });
      }
    }

    // ---------------- stage 2: cRT ----------------
    if (stage === 2) {
      const crt: LrSchedule = { kind: 'cosine', lr: p.crtLr, epochs: p.crtEpochs, warmupEpochs: 0 };
      const classifierVars = net.store.list().filter((v) => v.name.startsWith('classifier/'));
      for (let epoch = startEpoch; epoch < p.crtEpochs; epoch++) {
        const sampler = makeSampler('class-balanced', labels, K, { seed: seedFrom(p.seed, STREAM.crtSampler) });
        const loader = makeLoader(data.train, sampler, {
          batchSize: p.batchSize,
          epoch,
          train: true,
          seed: seedFrom(p.seed, STREAM.augment, 2),
          workers: p.workers,
          signal: ctx.signal,
          dropLast: true,
          log,
        });
        let steps = Math.floor(sampler.epochLength / p.batchSize);
        if (p.maxStepsPerEpoch > 0) steps = Math.min(steps, p.maxStepsPerEpoch);
        let sum = 0;
        let nSteps = 0;
        let images = 0;
        let lr = lrAt(crt, epoch);
        const t0 = Date.now();
        let step = 0;
        for await (const raw of loader) {
          if (step >= steps) break;
          if (ctx.signal.aborted) throw new AbortedError(`in stage 2, epoch ${epoch}, step ${step}`, ckptDir);
          if (raw.n < 2) continue;
          lr = lrAt(crt, epoch + step / steps);
          const b = toDevice(raw);
          // Frozen backbone: inference-mode features outside the tape; only the classifier learns.
          const h = tf.tidy(() => net.features(b.x, inferencePass())) as Tensor2D;
          const out = tf.variableGrads(() => crossEntropy(net.classifier.apply(h), b.y, K), classifierVars.map((v) => v.variable));
          const loss = (await out.value.data())[0];
          if (!Number.isFinite(loss)) {
            tf.dispose([h, out.value, ...Object.values(out.grads)]);
            disposeBatch(b);
            throw new TrialFailed(`non-finite loss in stage 2 (cRT) at epoch ${epoch}, step ${step} (lr ${lr}): loss=${loss} (ce=${loss})`, {
              stage: 2,
              epoch,
              step,
              loss,
            });
          }
          opt.apply(classifierVars, out.grads, lr);
          tf.dispose([h, out.value, ...Object.values(out.grads)]);
          disposeBatch(b);
          ctx.onStep?.({ stage: 2, epoch, step, loss, terms: { ce: loss } });
          sum += loss;
          images += raw.n;
          nSteps++;
          step++;
        }
        if (ctx.signal.aborted) throw new AbortedError(`in stage 2, epoch ${epoch}`, ckptDir);
        const seconds = Math.max(1e-3, (Date.now() - t0) / 1000);
        const trainMetrics = { 'train/loss': sum / Math.max(1, nSteps), 'train/loss_ce': sum / Math.max(1, nSteps), 'train/lr': lr, 'train/images_per_s': images / seconds };
        const last = epoch === p.crtEpochs - 1;
        const due = (epoch + 1) % p.evalEvery === 0 || last;
        const globalEpoch = p.epochs + epoch + 1;
        await evalNow(globalEpoch, trainMetrics, due);
        await checkpoint({ stage: 2, epochsDone: epoch + 1 });
        log.info(`stage 2 (cRT) epoch ${epoch + 1}/${p.crtEpochs} loss ${trainMetrics['train/loss'].toFixed(4)}` + (due && lastEval ? ` val top1 ${lastEval['val/top1'].toFixed(4)}` : ''));
        if (due && lastEval) await ctx.report(globalEpoch, finiteOnly(lastEval));
      }
    }

    // ---------------- final evaluation and artifacts ----------------
    // Validation chose nothing yet only on a resume after the last epoch's checkpoint: evaluate it again.
    const valAcc = (lastAcc as ShotAccuracy | null) ?? (await evaluateOn('val'));
    const acc = await testOnce('test', p.epochs + p.crtEpochs);
    const artifacts: string[] = [];
    const csv = path.join(ctx.workDir, 'per_class_accuracy.csv');
    await writePerClassCsv(csv, acc, d.trainCounts, d.classNames);
    await ctx.tracker.logArtifact(csv);
    artifacts.push(csv);
    const modelDir = path.join(ctx.workDir, 'model');
    await saveTensors(
      modelDir,
      net.store.list().map((v) => ({ name: v.name, tensor: v.variable as Tensor })),
      { model: p.model, inputShape: data.inputShape, numClasses: K, classNames: d.classNames, trainer: o.trainer },
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
  } finally {
    disposeAll();
  }
}
