// The compiled training step (one libtensorflow graph per batch shape, traced from the eager step)
// against the eager step it replaces: two copies of the same network from the same weights, the
// same batches and learning rates, 20 steps; loss every step, every weight, running statistic and
// momentum buffer at the end, and one step's gradients. Tolerance: 1e-5 of each tensor's largest
// magnitude, float32 round-off for sums taken in another order (the graph may fuse or reorder ops;
// on this libtensorflow the two paths have agreed exactly, which the bound does not rely on).
import { loadTf } from '@iccl/tf-backend';
import { SgdMomentum, buildNetwork, type Network } from '../src/models';
import { leanVariableGrads } from '../src/models/lean-grads';
import { trainingPass, discardUpdates } from '../src/models/layers';
import { stage1Step } from '../src/train/step';
import { CompiledStep } from '../src/train/compiled/runner';
import { notCompilable } from '../src/train/compiled/build';
import { releaseStepEngine, stepEngineFor } from '../src/train/compiled/engine';
import { Rng } from '../src/train/random';
import { batch, ce, K, relDiff, runBoth, snapshotOf, type Side } from './compiled-fixtures';
import type { Stage1Method } from '../src/train/method';
import type { Tensor1D, Tensor4D } from '../src/models/tf';

/** Cross-entropy on images scaled per sample by a factor drawn each step: a method with a drawStep. */
const scaled: Stage1Method = {
  ...ce,
  name: 'scaled-ce',
  traceable: true,
  drawStep: (a, _b, info) => ({ s: tf.tensor1d(Float32Array.from({ length: a.n }, () => 0.5 + info.rng.next())) }),
  loss: (net, a, _b, pass, _info, draws) => {
    const x = tf.mul(a.x, tf.reshape(draws!.s as Tensor1D, [-1, 1, 1, 1])) as Tensor4D;
    return ce.loss(net, { ...a, x }, null, pass, _info);
  },
};

const tf = loadTf('cpu');
const TOL = 1e-5;

function snapshot(net: Network, opt: SgdMomentum): Map<string, Float32Array> {
  const m = new Map(net.store.list().map((v) => [v.name, v.variable.dataSync() as Float32Array]));
  for (const s of opt.state()) m.set(s.name, s.tensor.dataSync() as Float32Array);
  return m;
}

/** 20 steps on each engine; the last 3 on a smaller batch (a new shape: the compiled step retraces). */
function run(model: string, side: number, n: number): void {
  const nets = [0, 1].map(() => buildNetwork({ model, inputShape: [side, side, 3], numClasses: K, seed: 4 }));
  const opts = [0, 1].map(() => new SgdMomentum(0.9, 5e-4));
  const batches = [batch(n, side, 1), batch(n, side, 2), batch(n, side, 3), batch(n - 2, side, 4)];
  const compiled = new CompiledStep({ tolerance: TOL });
  const rng = new Rng(1);
  for (let s = 0; s < 20; s++) {
    const a = batches[s >= 17 ? 3 : s % 3];
    const lr = 0.05 * (1 - s / 40);
    const info = { epoch: 0, step: s, rng };
    const e = stage1Step(nets[0], ce, opts[0], nets[0].store.list(), a, null, info, lr);
    const c = compiled.step(nets[1], ce, opts[1], nets[1].store.list(), a, null, info, lr);
    expect(c.finite).toBe(true);
    expect(Math.abs(c.loss - e.loss) / Math.abs(e.loss)).toBeLessThanOrEqual(TOL);
    expect(Math.abs(c.terms.ce - e.terms.ce) / Math.abs(e.terms.ce)).toBeLessThanOrEqual(TOL);
  }
  expect(compiled.fellBack).toBeNull();
  expect(compiled.traces).toBe(2);
  const [we, wc] = [snapshot(nets[0], opts[0]), snapshot(nets[1], opts[1])];
  expect([...wc.keys()].sort()).toEqual([...we.keys()].sort());
  expect(we.size).toBeGreaterThan(nets[0].store.list().length);
  const over = [...we].filter(([k, v]) => !(relDiff(wc.get(k)!, v) <= TOL)).map(([k]) => k);
  expect(over).toEqual([]);
  // the weights did move: the comparison is not of two untouched copies
  const init = buildNetwork({ model, inputShape: [side, side, 3], numClasses: K, seed: 4 });
  const moved = Math.max(...init.store.list().map((v) => relDiff(v.variable.dataSync(), we.get(v.name)!)));
  expect(moved).toBeGreaterThan(1e-3);
  compiled.dispose();
}

describe('compiled training step', () => {
  it('matches the eager step over 20 steps on a CIFAR ResNet-32 (small inputs), including a retrace', () => {
    run('resnet32', 8, 4);
  }, 120_000);

  it('matches the eager step over 20 steps on the small CNN', () => {
    run('small-cnn', 16, 6);
  }, 60_000);

  it("gives one step's gradients as the eager tape walk does", () => {
    const net = buildNetwork({ model: 'resnet8', inputShape: [8, 8, 3], numClasses: K, seed: 2 });
    const opt = new SgdMomentum(0.9, 1e-4);
    const a = batch(5, 8, 7);
    const compiled = new CompiledStep();
    const vars = net.store.list();
    const rng = new Rng(2);
    for (let s = 0; s < 2; s++) compiled.step(net, ce, opt, vars, a, null, { epoch: 0, step: s, rng }, 0.01);
    const ctx = { net, method: ce, opt, vars, a, b: null, info: { epoch: 0, step: 2, rng }, lr: 0.01 };
    const got = compiled.gradients(ctx);
    const pass = trainingPass();
    const trained = vars.filter((v) => v.role !== 'state');
    const want = leanVariableGrads(() => ce.loss(net, a, null, pass, ctx.info).total, trained.map((v) => v.variable));
    discardUpdates(pass);
    expect(got.size).toBe(trained.length);
    for (const v of trained) expect(relDiff(got.get(v.name)!.dataSync(), want.grads[v.variable.name].dataSync())).toBeLessThanOrEqual(TOL);
    tf.dispose([...got.values(), want.value, ...Object.values(want.grads)]);
    compiled.dispose();
  }, 60_000);

  it('falls back to the eager step for good, with one reason, when its check fails', () => {
    const net = buildNetwork({ model: 'resnet8', inputShape: [8, 8, 3], numClasses: K, seed: 2 });
    const opt = new SgdMomentum(0.9, 1e-4);
    const reasons: string[] = [];
    // A negative tolerance cannot be met: the check must fail, whatever the differences are.
    const compiled = new CompiledStep({ tolerance: -1, onFallback: (w) => reasons.push(w) });
    const a = batch(4, 8, 9);
    const rng = new Rng(2);
    for (let s = 0; s < 4; s++) expect(compiled.step(net, ce, opt, net.store.list(), a, null, { epoch: 0, step: s, rng }, 0.01).finite).toBe(true);
    expect(reasons).toHaveLength(1);
    expect(reasons[0]).toMatch(/failed its check against the eager step .* running eagerly/);
    expect(compiled.fellBack).toBe(reasons[0]);
    expect(compiled.traces).toBe(1);
  }, 60_000);

  it('feeds the values a method draws each step (drawStep) to its program instead of freezing them', () => {
    const sides = [0, 1].map((): Side => {
      const net = buildNetwork({ model: 'small-cnn', inputShape: [16, 16, 3], numClasses: K, seed: 4 });
      return { net, method: scaled, opt: new SgdMomentum(0.9, 5e-4), vars: net.store.list() };
    });
    const batches = [batch(6, 16, 1), batch(6, 16, 2), batch(5, 16, 3)];
    const runner = new CompiledStep({ tolerance: TOL });
    const r = runBoth(sides[0], sides[1], runner, 12, (s) => ({ a: batches[s >= 10 ? 2 : s % 2], b: null, epoch: 0, lr: 0.05 }));
    expect(runner.fellBack).toBeNull();
    expect(runner.traces).toBe(2);
    expect(r.losses.filter(([e, c]) => !(Math.abs(c - e) <= TOL * Math.abs(e)))).toEqual([]);
    const [we, wc] = sides.map((s) => snapshotOf(s));
    expect([...we].filter(([k, v]) => !(relDiff(wc.get(k)!, v) <= TOL)).map(([k]) => k)).toEqual([]);
    runner.dispose();
  }, 60_000);

  it('refuses a trace whose loss reads a variable that is not one of the step\'s (it would be frozen)', () => {
    const net = buildNetwork({ model: 'small-cnn', inputShape: [16, 16, 3], numClasses: K, seed: 4 });
    const hidden = tf.variable(tf.scalar(2), false);
    const reads: Stage1Method = { ...ce, name: 'hidden', traceable: true, loss: (n, a, _b, pass, info) => {
      const l = ce.loss(n, a, null, pass, info).total;
      return { total: tf.mul(l, hidden), terms: {} };
    } };
    const runner = new CompiledStep();
    const opt = new SgdMomentum(0.9, 0);
    const a = batch(4, 16, 1);
    const before = tf.memory().numTensors;
    // its value still in JavaScript (uploaded inside the traced region) and then already uploaded
    for (let s = 0; s < 2; s++) expect(() => runner.step(net, reads, opt, net.store.list(), a, null, { epoch: 0, step: s, rng: new Rng(1) }, 0.01)).toThrow(/reads variable\(s\) .*, not among the step's variables/);
    expect(tf.memory().numTensors).toBe(before);
    hidden.dispose();
  }, 60_000);

  it('names the methods it cannot compile and why', () => {
    expect(notCompilable(ce)).toBeNull();
    expect(notCompilable(scaled)).toBeNull();
    expect(notCompilable({ ...ce, name: 'noisy' })).toBe('method noisy: not declared traceable (its loss may draw per-step values in JavaScript or change with the epoch, which a traced graph would freeze)');
  });

  it('engine selection: compiled where it can run, eager with one line saying why where not', () => {
    const lines: string[] = [];
    const log = (m: string) => lines.push(m);
    const ceRun = { ...ce };
    expect(stepEngineFor(ceRun, { engine: 'compiled', log }).name).toBe('compiled');
    expect(stepEngineFor(ceRun, { engine: 'compiled', log })).toBe(stepEngineFor(ceRun, { engine: 'eager' })); // one per run
    releaseStepEngine(ceRun);
    expect(lines).toEqual([]);
    const mixup = { ...ce, name: 'noisy' };
    expect(stepEngineFor(mixup, { engine: 'compiled', log }).name).toBe('eager');
    const recomputed = { ...ce };
    expect(stepEngineFor(recomputed, { engine: 'compiled', recompute: true, log }).name).toBe('eager');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^engine compiled: unavailable for method noisy: not declared traceable .*; running the eager step$/);
    const traceable = { ...scaled };
    expect(stepEngineFor(traceable, { engine: 'compiled', log }).name).toBe('compiled');
    releaseStepEngine(traceable);
    expect(lines[1]).toMatch(/^engine compiled: unavailable for recompute/);
    expect(stepEngineFor({ ...ce }, { engine: 'eager', log }).name).toBe('eager');
    expect(() => stepEngineFor({ ...ce }, { engine: 'jit' })).toThrow('engine: got "jit", expected one of eager, compiled');
    [mixup, recomputed].forEach(releaseStepEngine);
  });
});
