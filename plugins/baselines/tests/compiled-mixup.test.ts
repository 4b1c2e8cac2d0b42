// mixup on the compiled training step against the eager step: two copies from the same weights,
// the same batches and learning rates, 20 steps with a smaller last batch (a retrace). The
// permutation and the lambdas are drawn each step (drawStep) and fed to the graph; a graph that
// froze the first step's draws would mix other images from the second step on. Tolerance 1e-5 of
// each tensor's largest magnitude, as for cross-entropy (plugins/longtail/tests/compiled-step.test.ts):
// float32 round-off of sums the graph may take in another order, grown through 20 steps.
import { loadTf } from '@iccl/tf-backend';
import { SgdMomentum, buildNetwork, leanVariableGrads, trainingPass, discardUpdates, Rng } from '@iccl/longtail';
import { CompiledStep } from '../../longtail/src/train/compiled/runner';
import { notCompilable } from '../../longtail/src/train/compiled/build';
import { batch, K, relDiff, runBoth, snapshotOf, type Side } from '../../longtail/tests/compiled-fixtures';
import { MixupMethod } from '../src/mixup';

const tf = loadTf('cpu');
const TOL = 1e-5;

function side(lambdaPerBatch: boolean): Side {
  const net = buildNetwork({ model: 'resnet8', inputShape: [16, 16, 3], numClasses: K, seed: 4 });
  return { net, method: new MixupMethod({ alpha: 1, lambdaPerBatch }), opt: new SgdMomentum(0.9, 5e-4), vars: net.store.list() };
}

const batches = [batch(8, 16, 1), batch(8, 16, 2), batch(8, 16, 3), batch(6, 16, 4)];

function compare(lambdaPerBatch: boolean): void {
  const [e, c] = [side(lambdaPerBatch), side(lambdaPerBatch)];
  const start = snapshotOf(e);
  const runner = new CompiledStep({ tolerance: TOL });
  const r = runBoth(e, c, runner, 20, (s) => ({ a: batches[s >= 17 ? 3 : s % 3], b: null, epoch: 0, lr: 0.05 * (1 - s / 40) }));
  expect(runner.fellBack).toBeNull();
  expect(runner.traces).toBe(2);
  expect(r.losses.filter(([x, y]) => !(Math.abs(x - y) <= TOL * Math.abs(x)))).toEqual([]);
  for (const t of r.terms) expect(Math.abs(t.mix[1] - t.mix[0])).toBeLessThanOrEqual(TOL * Math.abs(t.mix[0]));
  const [we, wc] = [snapshotOf(e), snapshotOf(c)];
  expect([...wc.keys()].sort()).toEqual([...we.keys()].sort());
  expect([...we].filter(([k, v]) => !(relDiff(wc.get(k)!, v) <= TOL)).map(([k, v]) => `${k} ${relDiff(wc.get(k)!, v).toExponential(1)}`)).toEqual([]);
  // the weights did move: the comparison is not of two untouched copies
  expect(Math.max(...e.vars.map((v) => relDiff(we.get(v.name)!, start.get(v.name)!)))).toBeGreaterThan(1e-3);
  runner.dispose();
}

describe('mixup on the compiled step', () => {
  it('is declared traceable', () => {
    expect(notCompilable(new MixupMethod({ alpha: 1, lambdaPerBatch: false }))).toBeNull();
  });

  it('matches the eager step over 20 steps (a lambda per sample), including a retrace', () => compare(false), 120_000);

  it('matches the eager step over 20 steps (one lambda per batch)', () => compare(true), 120_000);

  it("gives one step's gradients as the eager tape walk does, on a fresh permutation and lambdas", () => {
    const s = side(false);
    const runner = new CompiledStep({ tolerance: TOL });
    const a = batches[0];
    const rng = new Rng(2);
    for (let k = 0; k < 3; k++) runner.step(s.net, s.method, s.opt, s.vars, a, null, { epoch: 0, step: k, rng }, 0.01);
    expect(runner.traces).toBe(1);
    const info = { epoch: 0, step: 3, rng: new Rng(9) };
    const draws = s.method.drawStep!(a, null, info);
    const got = runner.gradients({ ...s, a, b: null, info, lr: 0.01, draws });
    const pass = trainingPass();
    const want = leanVariableGrads(() => s.method.loss(s.net, a, null, pass, info, draws).total, s.vars.map((v) => v.variable));
    discardUpdates(pass);
    expect(got.size).toBe(s.vars.filter((v) => v.role !== 'state').length);
    const over = [...got].filter(([k, g]) => !(relDiff(g.dataSync(), want.grads[s.vars.find((v) => v.name === k)!.variable.name].dataSync()) <= TOL)).map(([k]) => k);
    expect(over).toEqual([]);
    tf.dispose([...got.values(), want.value, ...Object.values(want.grads), ...Object.values(draws)]);
    runner.dispose();
  }, 60_000);
});
