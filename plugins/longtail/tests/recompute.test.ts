// Recompute (gradient checkpointing) per residual stage: the same loss, gradients, weights and
// batch-norm running statistics as the network that keeps its activations, on fixed inputs, with
// nothing left behind; and clear refusals where it cannot apply.
import { loadTf } from '@iccl/tf-backend';
import { SgdMomentum, buildNetwork, crossEntropy, crossEntropyTrainStep, discardUpdates, inferencePass, trainingPass, type Network } from '../src/models';
import { leanVariableGrads } from '../src/models/lean-grads';
import { recomputed } from '../src/models/recompute';
import type { Scalar, Tensor, Tensor1D, Tensor4D } from '../src/models';
import { values } from './fixed-values';

const tf = loadTf('cpu');

/** max |a - b| over max |b|, computed natively (JavaScript loops over ResNet-50's 25M values are slow under jest). */
function relDiff(a: Tensor, b: Tensor): number {
  return tf.tidy(() => tf.div(tf.max(tf.abs(tf.sub(a, b))), tf.maximum(tf.max(tf.abs(b)), 1e-3))).dataSync()[0];
}

interface Case {
  model: string;
  side: number;
  batch: number;
  classes: number;
  /** weights from native ops, not the seeded initialiser (whose 25M draws take ~30 s under jest) */
  fastWeights?: boolean;
}
const CASES: Case[] = [
  { model: 'resnet20', side: 16, batch: 4, classes: 5 },
  { model: 'resnet50', side: 32, batch: 2, classes: 3, fastWeights: true },
];

function build(c: Case, recompute: boolean): Network {
  const n = buildNetwork({ model: c.model, inputShape: [c.side, c.side, 3], numClasses: c.classes, seed: 4, recompute, structureOnly: c.fastWeights });
  if (c.fastWeights) {
    // Deterministic, varied, Kaiming-scaled (fan-in) weights: sin(a i) cos(b i) has variance 1/4.
    n.store.list().forEach((v, k) => {
      if (v.role !== 'weight') return;
      const fanIn = v.variable.size / v.variable.shape[v.variable.rank - 1];
      v.variable.assign(
        tf.tidy(() => {
          const i = tf.range(0, v.variable.size, 1, 'float32');
          const w = tf.mul(tf.sin(tf.mul(i, 0.7548 + 0.01 * k)), tf.cos(tf.mul(i, 0.5698)));
          return tf.reshape(tf.mul(w, 2 * Math.sqrt(2 / fanIn)), v.variable.shape);
        }),
      );
    });
  }
  return n;
}
function inputs(c: Case): { x: Tensor4D; y: Tensor1D } {
  const x = tf.tensor4d(values(c.batch * c.side * c.side * 3, 17), [c.batch, c.side, c.side, 3]) as Tensor4D;
  const y = tf.tensor1d(Array.from({ length: c.batch }, (_, i) => i % c.classes), 'int32') as Tensor1D;
  return { x, y };
}
function trained(n: Network) {
  return n.store.list().filter((v) => v.role !== 'state');
}

/** Loss, every trained variable's gradient and the pending running statistics of one step (tensors the caller frees). */
function gradsOf(n: Network, x: Tensor4D, y: Tensor1D) {
  const pass = trainingPass();
  const vars = trained(n);
  const out = leanVariableGrads(() => crossEntropy(n.logits(x, pass), y, n.numClasses), vars.map((v) => v.variable));
  const grads = new Map(vars.map((v) => [v.name, out.grads[v.variable.name] ?? null]));
  const loss = out.value.dataSync()[0];
  out.value.dispose();
  const updates = pass.updates.map((u) => u.value);
  pass.updates.length = 0;
  const dispose = () => tf.dispose([...Object.values(out.grads), ...updates]);
  return { loss, grads, updates, dispose };
}

describe.each(CASES)('recompute per residual stage, $model at $side px, batch $batch', (c) => {
  const { x, y } = inputs(c);
  afterAll(() => tf.dispose([x, y]));

  it('gives the loss, every gradient and the running-statistic updates of the network that keeps its activations', () => {
    const off = build(c, false);
    const on = build(c, true);
    const a = gradsOf(off, x, y);
    const b = gradsOf(on, x, y);
    expect(b.loss).toBeCloseTo(a.loss, 5);
    expect([...b.grads.keys()]).toEqual([...a.grads.keys()]);
    expect([...a.grads.values()].every((g) => g !== null)).toBe(true);
    const bad = [...a.grads.keys()].filter((k) => b.grads.get(k) === null || relDiff(b.grads.get(k)!, a.grads.get(k)!) > 1e-4);
    expect(bad).toEqual([]);
    // One update per batch norm, not two: the recomputation's statistics are thrown away.
    expect(b.updates.length).toBe(a.updates.length);
    expect(b.updates.filter((u, i) => relDiff(u, a.updates[i]) > 1e-5)).toEqual([]);
    a.dispose();
    b.dispose();
    off.dispose();
    on.dispose();
  });

  it('after one SGD step holds the same weights and running statistics, and leaves no tensor behind', () => {
    const off = build(c, false);
    const on = build(c, true);
    const [optOff, optOn] = [new SgdMomentum(0.9, 1e-3), new SgdMomentum(0.9, 1e-3)];
    const lossOff = crossEntropyTrainStep(off, optOff, x, y, 0.05);
    const lossOn = crossEntropyTrainStep(on, optOn, x, y, 0.05);
    expect(lossOn).toBeCloseTo(lossOff, 5);
    const bad = on.store.list().filter((v) => relDiff(v.variable, off.store.get(v.name)!.variable) > 1e-4);
    expect(bad.map((v) => v.name)).toEqual([]);
    // The running mean moved from 0 at all (and matched above, so it moved once).
    const moved = on.store.get('backbone/stage1/block1/bn1/running_mean')!.variable.dataSync();
    expect(Array.from(moved).some((v) => v !== 0)).toBe(true);
    // The momentum buffers exist after the first step; a second step adds nothing and keeps nothing.
    const before = tf.memory().numTensors;
    crossEntropyTrainStep(on, optOn, x, y, 0.05);
    expect(tf.memory().numTensors).toBe(before);
    optOff.clear();
    optOn.clear();
    off.dispose();
    on.dispose();
  });
});

describe('recompute', () => {
  const c = CASES[0];
  const { x, y } = inputs(c);
  afterAll(() => tf.dispose([x, y]));

  it('composes with tfjs own tape walk (tf.variableGrads) too', () => {
    const off = build(c, false);
    const on = build(c, true);
    const a = gradsOf(off, x, y);
    const pass = trainingPass();
    const vars = trained(on);
    const out = tf.variableGrads(() => crossEntropy(on.logits(x, pass), y, c.classes) as Scalar, vars.map((v) => v.variable));
    expect(out.value.dataSync()[0]).toBeCloseTo(a.loss, 5);
    const bad = vars.filter((v) => relDiff(out.grads[v.variable.name], a.grads.get(v.name)!) > 1e-4);
    expect(bad.map((v) => v.name)).toEqual([]);
    tf.dispose([out.value, ...Object.values(out.grads)]);
    a.dispose();
    discardUpdates(pass);
    off.dispose();
    on.dispose();
  });

  it('is the plain forward in inference', () => {
    const off = build(c, false);
    const on = build(c, true);
    const [a, b] = [off, on].map((n) => tf.tidy(() => n.logits(x, inferencePass())));
    expect(relDiff(b, a)).toBe(0);
    tf.dispose([a, b]);
    off.dispose();
    on.dispose();
  });

  it('refuses small-cnn, which has no residual stages, with one line', () => {
    expect(() => buildNetwork({ model: 'small-cnn', inputShape: [8, 8, 3], numClasses: 2, recompute: true })).toThrow(/^recompute: small-cnn has no residual stages/);
  });

  it('refuses a segment that reads a trainable variable it was not given (it would get no gradient)', () => {
    const w = tf.variable(tf.tensor4d([0.5, -1, 2, 1], [1, 1, 1, 4]));
    const hidden = tf.variable(tf.scalar(3));
    const seg = (h: Tensor4D) => tf.mul(tf.mul(h, w), hidden) as Tensor4D;
    const pass = trainingPass();
    const h = tf.ones([1, 2, 2, 1]) as Tensor4D;
    expect(() => leanVariableGrads(() => tf.sum(recomputed(seg, h, pass, [w])) as Scalar, [w, hidden])).toThrow(/reads trainable variable .* not among its listed variables/);
    // Listed, both get their gradient: d/dw sum(h * w * 3) = 3 * 4 per channel, d/dhidden = 4 * sum(w) = 10.
    const out = leanVariableGrads(() => tf.sum(recomputed(seg, h, pass, [w, hidden])) as Scalar, [w, hidden]);
    expect(Array.from(out.grads[w.name].dataSync())).toEqual([12, 12, 12, 12]);
    expect(out.grads[hidden.name].dataSync()[0]).toBeCloseTo(10, 5);
    tf.dispose([out.value, ...Object.values(out.grads), w, hidden, h] as Tensor[]);
  });
});
