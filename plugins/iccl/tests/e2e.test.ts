import * as path from 'node:path';
import { loadTf } from '@iccl/tf-backend';
import { TrialPruned, validateParams } from '@iccl/trainer-api';
import { CHECKPOINT_DIR, buildNetwork, datasetSpec, inferencePass, loadDataset, readCheckpoint } from '@iccl/longtail';
import { savedWeights as weights, testContext, TINY } from '../../longtail/tests/train-helpers';
import { IcclMethod, plugin } from '../src';

const tf = loadTf('cpu');
// End-to-end runs train real (small) networks on a shared 2-core machine.
jest.setTimeout(180_000);

describe('ICCL end to end on the synthetic set (native backend)', () => {
  it('trains: losses fall, the ICC loss runs after warm-up, accuracy is well above chance after cRT', async () => {
    const ctx = testContext();
    const p = validateParams(plugin.params, { ...TINY, epochs: 8, crtEpochs: 1, evalEvery: 4 });
    const counts: number[] = [];
    const orig = ctx.report.bind(ctx);
    ctx.report = async (step, m) => {
      counts.push(tf.memory().numTensors);
      return orig(step, m);
    };
    const r = await plugin.train(p, ctx);
    const loss = ctx.tracker.series('train/loss');
    const mix = ctx.tracker.series('train/loss_mix');
    const ce = ctx.tracker.series('train/loss_ce');
    const icc = ctx.tracker.series('train/loss_icc');
    // 8 stage-1 epochs + 1 cRT epoch; the ICC loss is off during the 1 warm-up epoch.
    expect(loss).toHaveLength(9);
    expect(icc).toHaveLength(7);
    expect(ce[7]).toBeLessThan(ce[0] * 0.85);
    expect(mix[7]).toBeLessThan(mix[0]);
    expect(icc[6]).toBeLessThan(icc[0]);
    expect(loss[7]).toBeLessThan(loss[1]);
    // 4 classes: chance is 0.25.
    expect(r.metrics.top1).toBeGreaterThan(0.45);
    expect(r.metrics.few).toBeGreaterThan(0);
    expect(new Set(counts.slice(0, 2)).size).toBe(1);
    expect(ctx.tracker.params.tau).toBe(0.1);
    expect(ctx.tracker.params.centroidSource).toBe('agnostic');
  });

  it('resumes with centroids, heads and optimiser state: same weights as an uninterrupted run', async () => {
    const p = validateParams(plugin.params, { ...TINY, epochs: 3, crtEpochs: 0, maxStepsPerEpoch: 3, centroidSource: 'both' });
    const full = testContext();
    await plugin.train(p, full);
    const cut = testContext(undefined, (step) => {
      if (step === 2) throw new TrialPruned(step);
    });
    await expect(plugin.train(p, cut)).rejects.toBeInstanceOf(TrialPruned);
    const ck = await readCheckpoint(cut.workDir);
    expect(ck!.meta.methodState).toEqual({ ready: true });
    expect(ck!.tensors.has('centroids')).toBe(true);
    expect(ck!.tensors.has('proj/fc1/kernel')).toBe(true);
    tf.dispose([...ck!.tensors.values()]);
    const resumed = testContext(cut.workDir);
    await plugin.train(p, resumed);
    // epoch 3 again: its training and validation metrics, then the test split once (test/*)
    expect(resumed.tracker.metrics.map((m) => m.step)).toEqual([3, 3]);
    expect('test/top1' in resumed.tracker.metrics[1].metrics).toBe(true);
    const a = await weights(path.join(full.workDir, CHECKPOINT_DIR));
    const b = await weights(path.join(resumed.workDir, CHECKPOINT_DIR));
    for (const [k, v] of a) {
      const w = b.get(k)!;
      expect(w).toBeDefined();
      v.forEach((x, i) => expect(Math.abs(x - w[i])).toBeLessThan(1e-5 * Math.max(1, Math.abs(x))));
    }
    expect(resumed.tracker.metrics[0].metrics['train/loss_icc']).toBeCloseTo(full.tracker.metrics[2].metrics['train/loss_icc'], 5);
  });

  it('iccWarmupEpochs = 0 initialises centroids by one pass and runs the ICC loss from the first epoch', async () => {
    const ctx = testContext();
    const p = validateParams(plugin.params, { ...TINY, epochs: 1, crtEpochs: 0, maxStepsPerEpoch: 2, iccWarmupEpochs: 0, lambdaPerBatch: true });
    await plugin.train(p, ctx);
    expect(ctx.tracker.series('train/loss_icc')).toHaveLength(1);
  });

  it('pure ICC (wCe = wMix = 0) trains through the warm-up; all weights 0 is refused', async () => {
    const ctx = testContext();
    await plugin.train(validateParams(plugin.params, { ...TINY, epochs: 2, crtEpochs: 0, maxStepsPerEpoch: 2, wCe: 0, wMix: 0 }), ctx);
    expect(ctx.tracker.series('train/loss_icc')).toHaveLength(1);
    await expect(plugin.train(validateParams(plugin.params, { ...TINY, wCe: 0, wMix: 0, wIcc: 0 }), testContext())).rejects.toThrow(
      /parameter "wCe, wMix, wIcc": got \[0,0,0\], expected at least one loss weight > 0/,
    );
  });

  it('after warm-up the centroids are the normalised class means of every training embedding (inference pass)', async () => {
    const data = await loadDataset(datasetSpec(validateParams(plugin.params, { ...TINY })));
    const net = buildNetwork({ model: 'small-cnn', inputShape: data.inputShape, numClasses: 4, width: 8, seed: 1 });
    const m = new IcclMethod(net, data, {
      alpha: 1, tau: 0.1, centroidMomentum: 0.9, samplerRatio: 0.5, wIcc: 1, wCe: 1, wMix: 1, projDim: 16,
      iccWarmupEpochs: 1, centroidSource: 'agnostic', lambdaPerBatch: false, seed: 0, batchSize: 50, workers: 0,
    });
    await m.beforeEpoch(0, net); // still warming up: centroids untouched
    const random = Array.from(m.centroids.values);
    await m.beforeEpoch(1, net);
    expect(Array.from(m.centroids.values)).not.toEqual(random);
    // Reference: one image at a time, summed per class in float64.
    const sums = Array.from({ length: 4 }, () => new Float64Array(16));
    for (let i = 0; i < data.train.size; i++) {
      const x = await data.train.load(i, () => 0.5, false);
      const z = tf.tidy(() => m.head.apply(net.features(tf.tensor4d(x, [1, ...data.inputShape]), inferencePass())).dataSync());
      z.forEach((v, j) => (sums[data.train.labels[i]][j] += v));
    }
    sums.forEach((s, k) => {
      const n = Math.hypot(...s);
      s.forEach((v, j) => expect(m.centroids.values[k * 16 + j]).toBeCloseTo(v / n, 4));
    });
    m.dispose();
    net.dispose();
  });

  it('rejects an unknown or out-of-range ICCL parameter with one line naming it', () => {
    expect(() => validateParams(plugin.params, { tau: 0 })).toThrow(/parameter "tau": got 0, expected a finite number >= 0.0001/);
    expect(() => validateParams(plugin.params, { centroidSource: 'all' })).toThrow(/parameter "centroidSource": got "all", expected one of "agnostic", "both"/);
  });
});
