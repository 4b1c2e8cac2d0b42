import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadTf } from '@iccl/tf-backend';
import { TrialFailed, TrialPruned, validateParams } from '@iccl/trainer-api';
import { CHECKPOINT_DIR, readCheckpoint } from '@iccl/longtail';
import { savedWeights as weights, testContext, TINY } from '../../longtail/tests/train-helpers';
import { plugin, plugins } from '../src';

const tf = loadTf('cpu');
// End-to-end runs train real (small) networks on a shared 2-core machine.
jest.setTimeout(180_000);

/** Tiny runs: a few epochs of a small CNN on a 4-class synthetic set. */
const FAST = { ...TINY, maxStepsPerEpoch: 3 };

describe('two-stage loop (through the baseline plugins)', () => {
  it('logs the agreed metric names, the data set and backend tags, reports every eval, and writes artifacts', async () => {
    const ctx = testContext();
    const p = validateParams(plugins.crt.params, { ...FAST, epochs: 2, crtEpochs: 1 });
    const r = await plugins.crt.train(p, ctx);
    const names = new Set(ctx.tracker.metrics.flatMap((m) => Object.keys(m.metrics)));
    for (const n of ['train/loss', 'train/loss_ce', 'train/lr', 'train/images_per_s', 'val/top1', 'val/many', 'val/medium', 'val/few', 'test/top1', 'test/few', 'stage1_test/top1']) {
      expect(names.has(n)).toBe(true);
    }
    expect(names.has('eval/top1')).toBe(false);
    // validation every epoch; the test split once after stage 1 (stage1_test/*) and once at the end (test/*)
    const stepsWith = (k: string) => ctx.tracker.metrics.filter((m) => k in m.metrics).map((m) => m.step);
    expect(stepsWith('val/top1')).toEqual([1, 2, 3]);
    expect(stepsWith('stage1_test/top1')).toEqual([2]);
    expect(stepsWith('test/top1')).toEqual([3]);
    expect(ctx.reports.map((r) => r.step)).toEqual([1, 2, 3]);
    // the pruner sees validation only
    for (const rep of ctx.reports) expect(Object.keys(rep.metrics).sort()).toEqual(['val/few', 'val/many', 'val/medium', 'val/top1']);
    expect(ctx.tracker.tags['tf.backend']).toBe('tensorflow');
    expect(ctx.tracker.inputs[0].digest).toMatch(/^[0-9a-f]{16,}$/);
    expect((ctx.tracker.inputs[0].profile as { trainCounts: number[] }).trainCounts).toEqual([200, 125, 79, 50]);
    expect(ctx.tracker.params.lr).toBe(TINY.lr);
    expect(ctx.tracker.params.crtEpochs).toBe(1);
    expect(r.metrics.top1).toBeGreaterThanOrEqual(0);
    // the objective is validation's; the short names are the test split's
    expect(r.objective).toBe(r.metrics['val/top1']);
    expect(r.metrics['test/top1']).toBe(r.metrics.top1);
    expect(r.metrics['test/few']).toBe(r.metrics.few);
    expect(r.metrics['val/top1']).toBe(ctx.tracker.metrics.find((m) => m.step === 3 && 'val/top1' in m.metrics)!.metrics['val/top1']);
    const csv = fs.readFileSync(path.join(ctx.workDir, 'per_class_accuracy.csv'), 'utf8').trim().split('\n');
    expect(csv[0]).toBe('class,name,group,train_count,test_count,accuracy');
    expect(csv).toHaveLength(5);
    expect(ctx.tracker.artifacts.map((a) => path.basename(a.localPath)).sort()).toEqual(['model.json', 'per_class_accuracy.csv', 'weights.bin']);
    const model = JSON.parse(fs.readFileSync(path.join(ctx.workDir, 'model', 'model.json'), 'utf8'));
    expect(model.weightsManifest[0].weights.map((w: { name: string }) => w.name)).toContain('classifier/kernel');
  });

  it('stage 2 (cRT) leaves every backbone variable unchanged (running statistics included) and changes the classifier', async () => {
    let stage1: Map<string, Float32Array> | null = null;
    const ctx = testContext();
    const p = validateParams(plugins.crt.params, { ...FAST, epochs: 1, crtEpochs: 2 });
    const orig = ctx.report.bind(ctx);
    ctx.report = async (step, m) => {
      // report(1) comes right after the checkpoint of the last stage-1 epoch.
      if (step === 1) stage1 = await weights(path.join(ctx.workDir, CHECKPOINT_DIR));
      return orig(step, m);
    };
    await plugins.crt.train(p, ctx);
    const final = await weights(path.join(ctx.workDir, 'model'));
    expect(stage1).not.toBeNull();
    let backbone = 0;
    for (const [name, v] of final) {
      if (name.startsWith('backbone/')) {
        backbone++;
        expect(Array.from(v)).toEqual(Array.from(stage1!.get(name)!));
      }
    }
    expect(backbone).toBeGreaterThan(10);
    expect(Array.from(final.get('classifier/kernel')!)).not.toEqual(Array.from(stage1!.get('classifier/kernel')!));
  });

  it('resumes from the checkpoint at the same epoch with the same weights as an uninterrupted run', async () => {
    const p = validateParams(plugins.ce.params, { ...FAST, epochs: 3 });
    const full = testContext();
    await plugins.ce.train(p, full);

    // Interrupted: the pruner stops the trial after epoch 2 (TrialPruned propagates, checkpoint stays).
    const cut = testContext(undefined, (step) => {
      if (step === 2) throw new TrialPruned(step);
    });
    await expect(plugins.ce.train(p, cut)).rejects.toBeInstanceOf(TrialPruned);
    const ck = await readCheckpoint(cut.workDir);
    expect(ck!.meta.epochsDone).toBe(2);
    tf.dispose([...ck!.tensors.values()]);

    const resumed = testContext(cut.workDir);
    await plugins.ce.train(p, resumed);
    expect([...new Set(resumed.tracker.metrics.map((m) => m.step))]).toEqual([3]);
    const a = await weights(path.join(full.workDir, 'model'));
    const b = await weights(path.join(resumed.workDir, 'model'));
    expect([...b.keys()].sort()).toEqual([...a.keys()].sort());
    for (const [k, v] of a) {
      const w = b.get(k)!;
      v.forEach((x, i) => expect(Math.abs(x - w[i])).toBeLessThan(1e-5 * Math.max(1, Math.abs(x))));
    }
    const at3 = (c: typeof full, k: string) => c.tracker.metrics.find((m) => m.step === 3 && k in m.metrics)!.metrics[k];
    expect(at3(resumed, 'val/top1')).toBeCloseTo(at3(full, 'val/top1'), 10);
    expect(at3(resumed, 'test/top1')).toBeCloseTo(at3(full, 'test/top1'), 10);
  });

  it('refuses to resume a checkpoint written with other parameters, naming the folder', async () => {
    const ctx = testContext();
    await plugins.ce.train(validateParams(plugins.ce.params, { ...FAST, epochs: 1 }), ctx);
    const again = testContext(ctx.workDir);
    await expect(plugins.ce.train(validateParams(plugins.ce.params, { ...FAST, epochs: 1, lr: 0.01 }), again)).rejects.toThrow(
      /checkpoint was written with other parameters/,
    );
  });

  it('stops between steps on abort and leaves a usable checkpoint', async () => {
    const ctx = testContext(undefined, (step) => {
      if (step === 1) ctx.abort.abort();
    });
    const p = validateParams(plugins.ce.params, { ...FAST, epochs: 3 });
    await expect(plugins.ce.train(p, ctx)).rejects.toThrow(/aborted/);
    const ck = await readCheckpoint(ctx.workDir);
    expect(ck!.meta.stage).toBe(1);
    expect(ck!.meta.epochsDone).toBe(1);
    tf.dispose([...ck!.tensors.values()]);
  });

  it('a non-finite loss fails the trial with the step and the loss terms in the message', async () => {
    const ctx = testContext();
    const p = validateParams(plugins.ce.params, { ...FAST, epochs: 2, lr: 1e30, maxStepsPerEpoch: 0 });
    const err = await plugins.ce.train(p, ctx).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(TrialFailed);
    expect((err as Error).message).toMatch(/non-finite loss in stage 1 at epoch \d+, step \d+ .*loss=(NaN|Infinity).*\(ce=/);
  });

  it('frees every tensor: the count is flat across epochs and back to where it started', async () => {
    const before = tf.memory().numTensors;
    const counts: number[] = [];
    const ctx = testContext(undefined, () => counts.push(tf.memory().numTensors));
    await plugins.mixup.train(validateParams(plugins.mixup.params, { ...FAST, epochs: 3, crtEpochs: 2 }), ctx);
    expect(counts).toHaveLength(5);
    // Stage 1 epochs hold the same tensors; stage 2 drops the stage-1 optimiser's buffers for its own.
    expect(new Set(counts.slice(0, 3)).size).toBe(1);
    expect(new Set(counts.slice(3)).size).toBe(1);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('the combined "baselines" plugin runs the method its parameter names (mixup: one stage, alpha logged)', async () => {
    const ctx = testContext();
    await plugin.train(validateParams(plugin.params, { ...FAST, method: 'mixup', epochs: 1 }), ctx);
    expect(ctx.tracker.params.method).toBe('mixup');
    expect(ctx.tracker.params.crtEpochs).toBe(0);
    expect(ctx.tracker.tags['iccl.trainer']).toBe('mixup');
    expect(ctx.tracker.series('train/loss_mix')).toHaveLength(1);
  });
});
