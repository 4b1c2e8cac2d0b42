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
import { batch, ce, K } from './compiled-fixtures';

const tf = loadTf('cpu');
const TOL = 1e-5;

function relDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let scale = 0;
  for (let i = 0; i < b.length; i++) scale = Math.max(scale, Math.abs(b[i]));
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m / Math.max(scale, 1e-30);
}

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

  it('names the methods it cannot compile and why', () => {
    expect(notCompilable(ce)).toBeNull();
    expect(notCompilable({ ...ce, name: 'mixup' })).toMatch(/mixup: its loss draws per-step values in JavaScript/);
  });

  it('engine selection: compiled where it can run, eager with one line saying why where not', () => {
    const lines: string[] = [];
    const log = (m: string) => lines.push(m);
    const ceRun = { ...ce };
    expect(stepEngineFor(ceRun, { engine: 'compiled', log }).name).toBe('compiled');
    expect(stepEngineFor(ceRun, { engine: 'compiled', log })).toBe(stepEngineFor(ceRun, { engine: 'eager' })); // one per run
    releaseStepEngine(ceRun);
    expect(lines).toEqual([]);
    const mixup = { ...ce, name: 'mixup' };
    expect(stepEngineFor(mixup, { engine: 'compiled', log }).name).toBe('eager');
    const recomputed = { ...ce };
    expect(stepEngineFor(recomputed, { engine: 'compiled', recompute: true, log }).name).toBe('eager');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^engine compiled: unavailable for method mixup: its loss draws .*; running the eager step$/);
    expect(lines[1]).toMatch(/^engine compiled: unavailable for recompute/);
    expect(stepEngineFor({ ...ce }, { engine: 'eager', log }).name).toBe('eager');
    expect(() => stepEngineFor({ ...ce }, { engine: 'jit' })).toThrow('engine: got "jit", expected one of eager, compiled');
    [mixup, recomputed].forEach(releaseStepEngine);
  });
});
