import { inferencePass } from '../models/layers';
import { crossEntropy } from '../models/losses';
import { parseLrSteps } from '../models/schedule';
import type { Tensor2D } from '../models/tf';
import { stepEngineFor, type StepEngine } from './compiled/engine';
import { disposeBatch, toDevice } from './device-batch';
import type { StageSpec } from './epoch-runner';
import { Rng, seedFrom } from './random';
import type { StepOutcome } from './step';
import { STREAM } from './streams';
import { lossMeans } from './trial-metrics';
import type { TrainingState } from './training-state';
import type { Trial } from './trial-setup';

/** Stage 1: backbone, classifier and method heads under the method's loss and samplers. */
export function stage1Spec(t: Trial, state: TrainingState): StageSpec {
  const { p, net, method, ctx } = t;
  const second = method.secondSampler;
  let rng = new Rng(0);
  let engine: StepEngine | null = null;
  return {
    stage: 1,
    name: 'stage 1',
    epochs: p.epochs,
    epochOffset: 0,
    schedule: {
      kind: p.schedule as 'step' | 'cosine',
      lr: p.lr,
      epochs: p.epochs,
      warmupEpochs: p.warmupEpochs,
      steps: p.schedule === 'step' ? parseLrSteps(p.lrSteps, p.epochs) : undefined,
    },
    primary: { kind: method.primarySampler, sampler: { seed: seedFrom(p.seed, STREAM.samplerA) }, augmentSeed: seedFrom(p.seed, STREAM.augment) },
    partner: second
      ? { kind: second.kind, sampler: { seed: seedFrom(p.seed, STREAM.samplerB), samplerRatio: second.samplerRatio }, augmentSeed: seedFrom(p.seed, STREAM.augment, 1) }
      : null,
    beforeEpoch: async (epoch) => {
      await method.beforeEpoch?.(epoch, net);
      // The epoch's own generator (mixing coefficients): a resumed epoch draws what it drew the first time.
      rng = new Rng(seedFrom(p.seed, STREAM.mixing, epoch));
    },
    step: (rawA, rawB, { epoch, step }, lr) => {
      const a = toDevice(rawA);
      const b = rawB ? toDevice(rawB) : null;
      try {
        // Chosen at the first step (its check and log line come then), not looked up again every step.
        engine ??= stepEngineFor(method, { engine: p.engine, recompute: p.recompute, precision: p.precision, log: (m) => ctx.log.info(m) });
        return engine.step(net, method, state.opt, state.allVars(), a, b, { epoch, step, rng }, lr);
      } finally {
        disposeBatch(a);
        disposeBatch(b);
      }
    },
    failureDetails: (o) => o.terms,
    afterEpoch: (epoch) => method.afterEpoch?.(epoch),
    trainMetrics: (epoch, tot) => {
      const m: Record<string, number> = { 'train/lr': tot.lr, 'train/images_per_s': tot.imagesPerS, ...lossMeans(tot.sums, tot.nSteps) };
      return Object.assign(m, method.epochMetrics?.(epoch, m) ?? {});
    },
    progress: (epoch, m, val) =>
      `stage 1 epoch ${epoch + 1}/${p.epochs} loss ${m['train/loss']?.toFixed(4)} ${m['train/images_per_s'].toFixed(1)} img/s` +
      (val ? ` val top1 ${val['val/top1'].toFixed(4)} few ${val['val/few']}` : ''),
  };
}

/** Stage 2 (cRT): the frozen backbone's features, a new classifier under the class-balanced sampler, cosine. */
export function crtSpec(t: Trial, state: TrainingState): StageSpec {
  const { p, net, tf } = t;
  const K = t.data.description.numClasses;
  const classifierVars = net.store.list().filter((v) => v.name.startsWith('classifier/'));
  return {
    stage: 2,
    name: 'stage 2 (cRT)',
    epochs: p.crtEpochs,
    epochOffset: p.epochs,
    schedule: { kind: 'cosine', lr: p.crtLr, epochs: p.crtEpochs, warmupEpochs: 0 },
    primary: { kind: 'class-balanced', sampler: { seed: seedFrom(p.seed, STREAM.crtSampler) }, augmentSeed: seedFrom(p.seed, STREAM.augment, 2) },
    partner: null,
    step: async (raw, _b, _at, lr): Promise<StepOutcome> => {
      const b = toDevice(raw);
      // Frozen backbone: inference-mode features outside the tape; only the classifier learns.
      const h = tf.tidy(() => net.features(b.x, inferencePass())) as Tensor2D;
      const out = tf.variableGrads(() => crossEntropy(net.classifier.apply(h), b.y, K), classifierVars.map((v) => v.variable));
      const loss = (await out.value.data())[0];
      const finite = Number.isFinite(loss);
      if (finite) state.opt.apply(classifierVars, out.grads, lr);
      tf.dispose([h, out.value, ...Object.values(out.grads)]);
      disposeBatch(b);
      return { loss, terms: { ce: loss }, finite };
    },
    // Its one term is the loss: the details name the loss only.
    failureDetails: () => ({}),
    trainMetrics: (_epoch, tot) => {
      const mean = (tot.sums.loss ?? 0) / Math.max(1, tot.nSteps);
      return { 'train/loss': mean, 'train/loss_ce': mean, 'train/lr': tot.lr, 'train/images_per_s': tot.imagesPerS };
    },
    progress: (epoch, m, val) => `stage 2 (cRT) epoch ${epoch + 1}/${p.crtEpochs} loss ${m['train/loss'].toFixed(4)}` + (val ? ` val top1 ${val['val/top1'].toFixed(4)}` : ''),
  };
}
