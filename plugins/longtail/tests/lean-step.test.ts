// The optimised training step (lean tape walk, native ReLU gradient, residual add that keeps
// nothing, SGD with its factors uploaded once) against the path it replaced: tfjs's own
// tf.variableGrads with tfjs's composite gradients, and an SGD update computed here in plain
// JavaScript. Same fixed inputs and weights; loss, gradients and updated weights to float32 tolerance.
import { loadTf } from '@iccl/tf-backend';
import { SgdMomentum, addSameShape, buildNetwork, commitUpdates, crossEntropy, crossEntropyTrainStep, trainingPass, type Network } from '../src/models';
import { leanVariableGrads } from '../src/models/lean-grads';
import { setNativeGradients } from '../src/models/native-grads';
import type { Scalar, Tensor, Tensor1D, Tensor4D } from '../src/models';
import { values } from './fixed-values';

const tf = loadTf('cpu');

const B = 6;
const K = 5;
const x = tf.tensor4d(values(B * 8 * 8 * 3, 11), [B, 8, 8, 3]) as Tensor4D;
const y = tf.tensor1d([0, 1, 2, 3, 4, 1], 'int32') as Tensor1D;

function net(): Network {
  return buildNetwork({ model: 'resnet8', inputShape: [8, 8, 3], numClasses: K, seed: 3 });
}
function trainedVars(n: Network) {
  return n.store.list().filter((v) => v.role !== 'state');
}
function maxRelDiff(a: Float32Array | Int32Array | Uint8Array, b: Float32Array | Int32Array | Uint8Array): number {
  let m = 0;
  const scale = Math.max(1e-3, ...Array.from(b, Math.abs));
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]) / scale);
  return m;
}

/** Gradients through tfjs's own tape walk and composite gradients (the path before the change). */
function referenceGrads(n: Network): { loss: number; grads: Map<string, Float32Array> } {
  setNativeGradients(false);
  try {
    const pass = trainingPass();
    const vars = trainedVars(n);
    const out = tf.variableGrads(() => crossEntropy(n.logits(x, pass), y, K) as Scalar, vars.map((v) => v.variable));
    const grads = new Map(vars.map((v) => [v.name, out.grads[v.variable.name].dataSync() as Float32Array]));
    const loss = out.value.dataSync()[0];
    tf.dispose([out.value, ...Object.values(out.grads)]);
    commitUpdates(pass);
    return { loss, grads };
  } finally {
    setNativeGradients(true);
  }
}

afterAll(() => tf.dispose([x, y]));

describe('lean gradients', () => {
  it('match tfjs variableGrads with its composite gradients on a ResNet-8', () => {
    const ref = referenceGrads(net());
    const n = net();
    const pass = trainingPass();
    const vars = trainedVars(n);
    const out = leanVariableGrads(() => crossEntropy(n.logits(x, pass), y, K), vars.map((v) => v.variable));
    expect(out.value.dataSync()[0]).toBeCloseTo(ref.loss, 5);
    expect(Object.keys(out.grads)).toHaveLength(vars.length);
    const off = vars.filter((v) => maxRelDiff(out.grads[v.variable.name].dataSync() as Float32Array, ref.grads.get(v.name)!) > 1e-4);
    expect(off.map((v) => v.name)).toEqual([]);
    tf.dispose([out.value, ...Object.values(out.grads)]);
    commitUpdates(pass);
    n.dispose();
  });

  it('leave no tensor behind and free what the backward pass is done with', () => {
    const n = net();
    const vars = trainedVars(n).map((v) => v.variable);
    const before = tf.memory().numTensors;
    const pass = trainingPass();
    const out = leanVariableGrads(() => crossEntropy(n.logits(x, pass), y, K), vars);
    // What is left: the value, one gradient per variable, the pending running statistics.
    expect(tf.memory().numTensors - before).toBe(1 + vars.length + pass.updates.length);
    tf.dispose([out.value, ...Object.values(out.grads)]);
    commitUpdates(pass);
    expect(tf.memory().numTensors).toBe(before);
    n.dispose();
  });

  it('accumulate a variable used twice and skip one not used', () => {
    const a = tf.variable(tf.tensor1d([1, -2, 3]));
    const unused = tf.variable(tf.tensor1d([5]));
    // L = sum(relu(a) * a) + sum(3 a): dL/da = 2a where a > 0, else 0, plus 3.
    const out = leanVariableGrads(() => tf.add(tf.sum(tf.mul(tf.relu(a), a)), tf.sum(tf.mul(a, 3))) as Scalar, [a, unused]);
    expect(Array.from(out.grads[a.name].dataSync())).toEqual([5, 3, 9]);
    expect(out.grads[unused.name]).toBeUndefined();
    expect(out.value.dataSync()[0]).toBeCloseTo(1 + 9 + 6, 5);
    tf.dispose([out.value, ...Object.values(out.grads), a, unused]);
  });

  it('refuse a loss that is not a scalar, with one line', () => {
    const a = tf.variable(tf.tensor1d([1, 2]));
    expect(() => leanVariableGrads(() => tf.mul(a, 2) as unknown as Scalar, [a])).toThrow(/must return a scalar, got rank 1/);
    a.dispose();
  });
});

describe('addSameShape', () => {
  it('has the gradient of tf.add and keeps nothing for the backward pass', () => {
    const a = tf.variable(tf.tensor2d([1, 2, 3, 4], [2, 2]));
    const b = tf.variable(tf.tensor2d([0.5, -1, 2, 0], [2, 2]));
    const w = tf.tensor2d([1, 2, 3, 4], [2, 2]);
    const ref = tf.variableGrads(() => tf.sum(tf.mul(tf.add(a, b), w)) as Scalar, [a, b]);
    const ours = leanVariableGrads(() => tf.sum(tf.mul(addSameShape(a as Tensor, b as Tensor), w)) as Scalar, [a, b]);
    expect(Array.from(ours.grads[a.name].dataSync())).toEqual(Array.from(ref.grads[a.name].dataSync()));
    expect(Array.from(ours.grads[b.name].dataSync())).toEqual([1, 2, 3, 4]);
    expect(() => addSameShape(a as Tensor, tf.zeros([2]))).toThrow(/shapes differ/);
    tf.dispose([a, b, w, ref.value, ours.value, ...Object.values(ref.grads), ...Object.values(ours.grads)]);
  });
});

describe('optimised training step', () => {
  it('gives the loss and weights of the reference step (tfjs gradients, SGD computed here) over two steps', () => {
    const lr = 0.05;
    const mu = 0.9;
    const wd = 1e-3;
    const refNet = net();
    const bufs = new Map<string, Float32Array>();
    const refLosses: number[] = [];
    for (let s = 0; s < 2; s++) {
      const { loss, grads } = referenceGrads(refNet);
      refLosses.push(loss);
      for (const v of trainedVars(refNet)) {
        const w = v.variable.dataSync() as Float32Array;
        const g = grads.get(v.name)!;
        const d = g.map((gi, i) => gi + wd * w[i]);
        const buf = bufs.has(v.name) ? bufs.get(v.name)!.map((bi, i) => mu * bi + d[i]) : d;
        bufs.set(v.name, buf);
        v.variable.assign(tf.tensor(w.map((wi, i) => wi - lr * buf[i]), v.variable.shape));
      }
    }
    const n = net();
    const opt = new SgdMomentum(mu, wd);
    const losses = [crossEntropyTrainStep(n, opt, x, y, lr), crossEntropyTrainStep(n, opt, x, y, lr)];
    expect(losses[0]).toBeCloseTo(refLosses[0], 5);
    expect(losses[1]).toBeCloseTo(refLosses[1], 4);
    const refVars = new Map(refNet.store.list().map((v) => [v.name, v.variable]));
    // weights and the running statistics alike
    const off = n.store.list().filter((v) => maxRelDiff(v.variable.dataSync() as Float32Array, refVars.get(v.name)!.dataSync() as Float32Array) > 1e-4);
    expect(off.map((v) => v.name)).toEqual([]);
    opt.clear();
    n.dispose();
    refNet.dispose();
  });
});
