import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadTf } from '@iccl/tf-backend';
import {
  BatchNorm,
  GroupedConv2d,
  InitSeeds,
  SgdMomentum,
  VariableStore,
  buildNetwork,
  commitUpdates,
  crossEntropyTrainStep,
  inferencePass,
  loadTensors,
  lrAt,
  parseLrSteps,
  saveTensors,
  trainingPass,
} from '../src/models';
import { nativeGroupedConv2d } from '../src/models/grouped-conv';

const tf = loadTf('cpu');

/** Deterministic pseudo-random floats for inputs (independent of tf's generators). */
function values(n: number, seed: number): number[] {
  let s = seed;
  return Array.from({ length: n }, () => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return (s / 2147483648) * 4 - 2;
  });
}

describe('network sizes (published parameter counts)', () => {
  it('ResNet-32 (CIFAR, option-A shortcuts) has 0.46M parameters with a 10-way classifier', () => {
    const net = buildNetwork({ model: 'resnet32', inputShape: [32, 32, 3], numClasses: 10 });
    expect(net.store.parameterCount()).toBe(464154);
    expect(net.featureDim).toBe(64);
    net.dispose();
  });
  it('ResNet-50 and ResNeXt-50 32x4d match torchvision (25,557,032 and 25,028,904)', () => {
    const r50 = buildNetwork({ model: 'resnet50', inputShape: [224, 224, 3], numClasses: 1000, structureOnly: true });
    expect(r50.store.parameterCount()).toBe(25557032);
    r50.dispose();
    const rx = buildNetwork({ model: 'resnext50', inputShape: [224, 224, 3], numClasses: 1000, structureOnly: true });
    expect(rx.store.parameterCount()).toBe(25028904);
    // The grouped convolutions (split, convolve, concatenate) produce the 2048-d pooled feature.
    const h = tf.tidy(() => rx.features(tf.ones([1, 32, 32, 3]) as import('@tensorflow/tfjs-node').Tensor4D, inferencePass()));
    expect(h.shape).toEqual([1, 2048]);
    h.dispose();
    rx.dispose();
  });
  it('rejects a depth that is not 6n+2, naming the value', () => {
    expect(() => buildNetwork({ model: 'resnet33', inputShape: [32, 32, 3], numClasses: 10 })).toThrow(/6n\+2.*33/);
    expect(() => buildNetwork({ model: 'vgg', inputShape: [32, 32, 3], numClasses: 10 })).toThrow(/model: got "vgg"/);
  });
});

describe('batch norm', () => {
  const shape: [number, number, number, number] = [4, 3, 3, 2];
  const xs = values(4 * 3 * 3 * 2, 7);

  /** float64 reference of training-mode batch norm: per-channel batch mean, biased variance. */
  function reference(gamma: number[], beta: number[], eps: number) {
    const C = 2;
    const n = xs.length / C;
    const mean = [0, 0];
    const v = [0, 0];
    xs.forEach((x, i) => (mean[i % C] += x / n));
    xs.forEach((x, i) => (v[i % C] += (x - mean[i % C]) ** 2 / n));
    const y = xs.map((x, i) => ((x - mean[i % C]) / Math.sqrt(v[i % C] + eps)) * gamma[i % C] + beta[i % C]);
    return { y, mean, biasedVar: v, unbiasedVar: v.map((vv) => (vv * n) / (n - 1)) };
  }

  it('training mode: normalises with batch statistics, moves running mean / unbiased variance by 0.1 (fused and composite agree)', () => {
    for (const fused of [true, false]) {
      const store = new VariableStore();
      const bn = new BatchNorm(store, 2, 0.1, 1e-5, false, fused);
      bn.gamma.assign(tf.tensor1d([1.5, 0.5]));
      bn.beta.assign(tf.tensor1d([0.1, -0.2]));
      const ref = reference([1.5, 0.5], [0.1, -0.2], 1e-5);
      const pass = trainingPass();
      const x = tf.tensor4d(xs, shape);
      const y = bn.apply(x, pass);
      const got = Array.from(y.dataSync());
      got.forEach((g, i) => expect(g).toBeCloseTo(ref.y[i], 4));
      commitUpdates(pass);
      const rm = Array.from(bn.runningMean.dataSync());
      const rv = Array.from(bn.runningVar.dataSync());
      rm.forEach((m, c) => expect(m).toBeCloseTo(0.1 * ref.mean[c], 5));
      rv.forEach((v, c) => expect(v).toBeCloseTo(0.9 + 0.1 * ref.unbiasedVar[c], 5));
      // Inference uses the running statistics, not the batch's.
      const yi = Array.from(bn.apply(x, inferencePass()).dataSync());
      yi.forEach((g, i) => {
        const c = i % 2;
        expect(g).toBeCloseTo(((xs[i] - rm[c]) / Math.sqrt(rv[c] + 1e-5)) * [1.5, 0.5][c] + [0.1, -0.2][c], 4);
      });
      tf.dispose([x, y]);
      store.dispose();
    }
  });

  it('fused and composite training batch norm have the same gradients', () => {
    const grads: Record<string, number[]>[] = [];
    for (const fused of [true, false]) {
      const store = new VariableStore();
      const bn = new BatchNorm(store, 2, 0.1, 1e-5, false, fused);
      bn.gamma.assign(tf.tensor1d([1.5, 0.5]));
      const x = tf.tensor4d(xs, shape);
      const w = tf.tensor4d(values(xs.length, 3), shape);
      const pass = trainingPass();
      const g = [tf.grad((xi: import('@tensorflow/tfjs-node').Tensor) => tf.sum(tf.mul(bn.apply(xi as import('@tensorflow/tfjs-node').Tensor4D, pass), w)))(x)];
      const vg = tf.variableGrads(() => tf.sum(tf.mul(bn.apply(x, pass), w)) as import('@tensorflow/tfjs-node').Scalar, [bn.gamma, bn.beta]);
      grads.push({
        x: Array.from(g[0].dataSync()),
        gamma: Array.from(vg.grads[bn.gamma.name].dataSync()),
        beta: Array.from(vg.grads[bn.beta.name].dataSync()),
      });
      commitUpdates(pass);
      tf.dispose([x, w, ...g, vg.value, ...Object.values(vg.grads)]);
      store.dispose();
    }
    for (const k of ['x', 'gamma', 'beta']) grads[0][k].forEach((v, i) => expect(v).toBeCloseTo(grads[1][k][i], 3));
    // beta's gradient is the per-channel sum of w: an independent check of both.
    const w = values(xs.length, 3);
    const sums = [0, 1].map((c) => w.filter((_, i) => i % 2 === c).reduce((a, b) => a + b, 0));
    grads[0].beta.forEach((v, c) => expect(v).toBeCloseTo(sums[c], 4));
  });
});

describe('grouped convolution', () => {
  it('one native grouped Conv2D equals split-convolve-concatenate, values and gradients (stride 2)', () => {
    const results: number[][][] = [];
    for (const native of [true, false]) {
      const store = new VariableStore();
      const conv = new GroupedConv2d(store, new InitSeeds(3), 8, 8, 3, 2, 4, native);
      const x = tf.tensor4d(values(2 * 6 * 6 * 8, 5), [2, 6, 6, 8]);
      const w = tf.tensor4d(values(2 * 3 * 3 * 8, 9), [2, 3, 3, 8]);
      const f = (xi: import('@tensorflow/tfjs-node').Tensor) => tf.sum(tf.mul(conv.apply(xi as import('@tensorflow/tfjs-node').Tensor4D), w));
      const y = conv.apply(x);
      const gx = tf.grad(f)(x);
      const vg = tf.variableGrads(() => f(x) as import('@tensorflow/tfjs-node').Scalar, [conv.kernel]);
      results.push([Array.from(y.dataSync()), Array.from(gx.dataSync()), Array.from(vg.grads[conv.kernel.name].dataSync())]);
      expect(y.shape).toEqual([2, 3, 3, 8]);
      tf.dispose([x, w, y, gx, vg.value, ...Object.values(vg.grads)]);
      store.dispose();
    }
    for (let k = 0; k < 3; k++) results[0][k].forEach((v, i) => expect(v).toBeCloseTo(results[1][k][i], 3));
    // ... and on the native backend the native path is the one taken.
    const probe = nativeGroupedConv2d(tf.zeros([1, 4, 4, 4]) as import('@tensorflow/tfjs-node').Tensor4D, tf.zeros([3, 3, 2, 4]) as import('@tensorflow/tfjs-node').Tensor4D, 1);
    expect(probe?.shape).toEqual([1, 4, 4, 4]);
  });
});

describe('SGD with momentum and weight decay (PyTorch formulation)', () => {
  it('matches two hand-computed steps', () => {
    const store = new VariableStore();
    const w = store.add('w', tf.tensor1d([1, -2]), 'weight');
    const opt = new SgdMomentum(0.9, 0.1);
    const c = tf.tensor1d([0.5, 1]);
    const step = () => {
      const { value, grads } = tf.variableGrads(() => tf.sum(tf.mul(w, c)) as import('@tensorflow/tfjs-node').Scalar, [w]);
      opt.apply(store.list(), grads, 0.1);
      tf.dispose([value, ...Object.values(grads)]);
    };
    // g1 = c + 0.1 w0 = [0.6, 0.8]; v1 = g1; w1 = w0 - 0.1 v1 = [0.94, -2.08]
    step();
    const w1 = Array.from(w.dataSync());
    expect(w1[0]).toBeCloseTo(0.94, 6);
    expect(w1[1]).toBeCloseTo(-2.08, 6);
    // g2 = c + 0.1 w1 = [0.594, 0.792]; v2 = 0.9 v1 + g2 = [1.134, 1.512]; w2 = w1 - 0.1 v2
    step();
    const w2 = Array.from(w.dataSync());
    expect(w2[0]).toBeCloseTo(0.8266, 6);
    expect(w2[1]).toBeCloseTo(-2.2312, 6);
    opt.clear();
    c.dispose();
    store.dispose();
  });
  it('decay alone shrinks weights by (1 - lr wd) when the loss gradient is zero', () => {
    const store = new VariableStore();
    const w = store.add('w', tf.tensor1d([3, -1]), 'weight');
    const opt = new SgdMomentum(0, 0.5);
    const zero = tf.zeros([2]);
    opt.apply(store.list(), { [w.name]: zero }, 0.2);
    expect(Array.from(w.dataSync())).toEqual([3 * 0.9, -1 * 0.9].map((v) => Math.fround(v)));
    zero.dispose();
    store.dispose();
  });
});

describe('learning-rate schedules', () => {
  it('step: linear warm-up, then absolute factors at the milestones (CIFAR-LT protocol)', () => {
    const s = { kind: 'step' as const, lr: 0.1, epochs: 200, warmupEpochs: 5, steps: parseLrSteps('', 200) };
    expect(s.steps).toEqual([
      [160, 0.01],
      [180, 0.0001],
    ]);
    expect(lrAt(s, 2.5)).toBeCloseTo(0.05, 12);
    expect(lrAt(s, 5)).toBeCloseTo(0.1, 12);
    expect(lrAt(s, 159.9)).toBeCloseTo(0.1, 12);
    expect(lrAt(s, 170)).toBeCloseTo(0.001, 12);
    expect(lrAt(s, 190)).toBeCloseTo(0.00001, 12);
  });
  it('cosine: half at the middle, zero at the end', () => {
    const s = { kind: 'cosine' as const, lr: 0.2, epochs: 90, warmupEpochs: 0 };
    expect(lrAt(s, 0)).toBeCloseTo(0.2, 12);
    expect(lrAt(s, 45)).toBeCloseTo(0.1, 12);
    expect(lrAt(s, 90)).toBeCloseTo(0, 12);
  });
  it('rejects malformed lrSteps with one line naming the parameter', () => {
    expect(() => parseLrSteps('160-0.01', 200)).toThrow(/parameter "lrSteps": got "160-0.01", expected/);
  });
});

describe('training step', () => {
  it('trains a small CNN: loss falls on a fixed batch, no tensor leaks across steps', () => {
    const net = buildNetwork({ model: 'small-cnn', inputShape: [8, 8, 3], numClasses: 3, width: 4, seed: 1 });
    const opt = new SgdMomentum(0.9, 1e-4);
    const x = tf.tensor4d(values(12 * 8 * 8 * 3, 11), [12, 8, 8, 3]);
    const y = tf.tensor1d([0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2], 'int32');
    const first = crossEntropyTrainStep(net, opt, x, y, 0.05);
    const after = tf.memory().numTensors;
    let last = first;
    for (let i = 0; i < 15; i++) last = crossEntropyTrainStep(net, opt, x, y, 0.05);
    expect(tf.memory().numTensors).toBe(after);
    expect(last).toBeLessThan(first * 0.7);
    opt.clear();
    tf.dispose([x, y]);
    net.dispose();
  });
});

describe('weights in TF.js format', () => {
  it('round-trips every variable by name, atomically replacing an older save', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iccl-w-'));
    const net = buildNetwork({ model: 'small-cnn', inputShape: [8, 8, 3], numClasses: 3, width: 4, seed: 2 });
    const target = path.join(dir, 'ckpt');
    await saveTensors(target, [{ name: 'old', tensor: tf.scalar(1) }]);
    await saveTensors(
      target,
      net.store.list().map((v) => ({ name: v.name, tensor: v.variable })),
      { epoch: 3 },
    );
    const json = JSON.parse(fs.readFileSync(path.join(target, 'model.json'), 'utf8'));
    expect(json.weightsManifest[0].paths).toEqual(['weights.bin']);
    const back = await loadTensors(target);
    expect(back.metadata).toEqual({ epoch: 3 });
    expect(back.tensors.has('old')).toBe(false);
    for (const v of net.store.list()) {
      expect(Array.from(back.tensors.get(v.name)!.dataSync())).toEqual(Array.from(v.variable.dataSync()));
    }
    expect(fs.readdirSync(dir)).toEqual(['ckpt']);
    tf.dispose([...back.tensors.values()]);
    net.dispose();
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
