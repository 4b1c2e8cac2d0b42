// ICCL on the compiled training step (one libtensorflow graph per signature) against the eager
// step: two copies from the same weights, head and centroids, the same batches and learning rates,
// 20 steps through a phase change (epoch 0 without the ICC term, epoch 1 with it: a retrace) and a
// smaller last batch (another retrace). The lambdas are fed to the graph each step (drawStep); the
// centroid EMA runs in JavaScript after each step on the embeddings the graph returns.
// Tolerance 1e-5 of each tensor's largest magnitude, as for cross-entropy
// (plugins/longtail/tests/compiled-step.test.ts): float32 round-off of sums the graph may take in
// another order (about 1e-7 relative per op) grown through 20 steps, while a frozen draw, a stale
// centroid or a missing term is off at the order of the values themselves.
import { loadTf } from '@iccl/tf-backend';
import { SgdMomentum, buildNetwork, leanVariableGrads, trainingPass, discardUpdates, Rng } from '@iccl/longtail';
import { BF16_CHECK_TOLERANCE, CompiledStep } from '../../longtail/src/train/compiled/runner';
import { bf16Unsupported } from '../../longtail/src/train/compiled/bf16';
import { cpuFlags } from '../../longtail/src/train/cpu-flags';
import { notCompilable } from '../../longtail/src/train/compiled/build';
import { batch, K, relDiff, runBoth, snapshotOf, type Side } from '../../longtail/tests/compiled-fixtures';
import * as path from 'node:path';
import { validateParams } from '@iccl/trainer-api';
import { savedWeights, testContext, TINY } from '../../longtail/tests/train-helpers';
import { IcclMethod, type IcclOptions } from '../src/method';
import { plugin } from '../src';

const tf = loadTf('cpu');
const TOL = 1e-5;
const OPTS: IcclOptions = {
  alpha: 1, tau: 0.1, centroidMomentum: 0.9, samplerRatio: 0.5, wIcc: 1, wCe: 1, wMix: 1, projDim: 16,
  iccWarmupEpochs: 1, centroidSource: 'agnostic', lambdaPerBatch: false, seed: 3, batchSize: 6, workers: 0,
};

function side(o: IcclOptions): Side & { method: IcclMethod } {
  const net = buildNetwork({ model: 'resnet8', inputShape: [16, 16, 3], numClasses: K, seed: 4 });
  const method = new IcclMethod(net, null, o);
  method.loadState({ ready: true }); // centroids as after the means pass: the ICC term starts at epoch 1
  return { net, method, opt: new SgdMomentum(0.9, 5e-4), vars: [...net.store.list(), ...method.store.list()] };
}

const full = [1, 2, 3].map((s) => ({ a: batch(6, 16, s), b: batch(6, 16, s + 10) }));
const small = { a: batch(4, 16, 4), b: batch(5, 16, 14) };
/** steps 0-5 in epoch 0 (no ICC term), 6-19 in epoch 1; 17-19 on the smaller batches */
const at = (s: number) => ({ ...(s >= 17 ? small : full[s % 3]), epoch: s < 6 ? 0 : 1, lr: 0.02 * (1 - s / 40) });

function compare(o: IcclOptions): void {
  const [e, c] = [side(o), side(o)];
  const start = snapshotOf(e, { centroids: e.method.centroids.values });
  const runner = new CompiledStep({ tolerance: TOL });
  const r = runBoth(e, c, runner, 20, at);
  expect(runner.fellBack).toBeNull();
  // warm-up, the ICC phase, the smaller batch: one program each (the steps that first meet a
  // variable's gradient make its momentum buffer eagerly)
  expect(runner.traces).toBe(3);
  expect(r.losses.filter(([x, y]) => !(Math.abs(x - y) <= TOL * Math.abs(x)))).toEqual([]);
  for (const t of r.terms) for (const [x, y] of Object.values(t)) expect(Math.abs(x - y)).toBeLessThanOrEqual(TOL * Math.abs(x));
  expect(Object.keys(r.terms[5]).sort()).toEqual(['ce', 'mix']);
  expect(Object.keys(r.terms[6]).sort()).toEqual(['ce', 'icc', 'mix']);
  const [we, wc] = [snapshotOf(e, { centroids: e.method.centroids.values }), snapshotOf(c, { centroids: c.method.centroids.values })];
  expect([...wc.keys()].sort()).toEqual([...we.keys()].sort());
  // the head's momentum buffers exist: it was trained in the ICC phase
  expect([...we.keys()].filter((k) => k.startsWith('opt/proj')).length).toBeGreaterThan(0);
  const over = [...we].filter(([k, v]) => !(relDiff(wc.get(k)!, v) <= TOL)).map(([k, v]) => `${k} ${relDiff(wc.get(k)!, v).toExponential(1)}`);
  expect(over).toEqual([]);
  // the centroids (EMA) and the head did move: not a comparison of untouched copies
  expect(relDiff(we.get('centroids')!, start.get('centroids')!)).toBeGreaterThan(1e-2);
  const head = [...we.keys()].filter((k) => k.includes('proj') && !k.startsWith('opt/'));
  expect(head.length).toBeGreaterThan(0);
  for (const k of head) expect(relDiff(we.get(k)!, start.get(k)!)).toBeGreaterThan(1e-4);
  expect(relDiff(c.method.centroids.variable.dataSync(), c.method.centroids.values)).toBe(0);
  runner.dispose();
  [e, c].forEach((s) => s.method.dispose());
}

describe('ICCL on the compiled step', () => {
  it('is declared traceable', () => {
    expect(notCompilable(side(OPTS).method)).toBeNull();
  });

  it('matches the eager step over 20 steps, centroids included, through a phase change and a retrace', () => {
    compare(OPTS);
  }, 180_000);

  it('matches with one lambda per batch, centroids from both batches', () => {
    compare({ ...OPTS, lambdaPerBatch: true, centroidSource: 'both' });
  }, 180_000);

  it("gives one step's gradients (head included) as the eager tape walk does, on fresh lambdas", () => {
    const s = side(OPTS);
    const runner = new CompiledStep({ tolerance: TOL });
    const rng = new Rng(2);
    const { a, b } = full[0];
    for (let k = 0; k < 3; k++) runner.step(s.net, s.method, s.opt, s.vars, a, b, { epoch: 1, step: k, rng }, 0.01);
    expect(runner.traces).toBe(1);
    const info = { epoch: 1, step: 3, rng: new Rng(9) };
    const draws = s.method.drawStep(a, b, info);
    const got = runner.gradients({ ...s, a, b, info, lr: 0.01, draws });
    const pass = trainingPass();
    const trained = s.vars.filter((v) => v.role !== 'state');
    const want = leanVariableGrads(() => s.method.loss(s.net, a, b, pass, info, draws).total, trained.map((v) => v.variable));
    discardUpdates(pass);
    expect(got.size).toBe(trained.length);
    const over = trained.filter((v) => !(relDiff(got.get(v.name)!.dataSync(), want.grads[v.variable.name].dataSync()) <= TOL)).map((v) => v.name);
    expect(over).toEqual([]);
    tf.dispose([...got.values(), want.value, ...Object.values(want.grads), ...Object.values(draws)]);
    runner.dispose();
    s.method.dispose();
  }, 60_000);

  // 15 steps: over 45 (no step limit) the epoch losses still agreed to 2e-7, but one batch-norm
  // shift drifted to 3.7e-5 of its largest value (the others to 5e-6 at most): round-off grown
  // over the steps (lr 0.1, an ICC loss that rises in these epochs), not a bound on one step.
  it('trains through the trainer with engine compiled as with engine eager: warm-up epoch and means pass, ICC phase', async () => {
    const train = async (engine: string) => {
      const base = testContext();
      const lines: string[] = [];
      const ctx = { ...base, log: { ...base.log, info: (m: string) => void lines.push(m) } };
      await plugin.train(validateParams(plugin.params, { ...TINY, epochs: 3, crtEpochs: 1, maxStepsPerEpoch: 5, engine }), ctx);
      const icc = ctx.tracker.series('train/loss_icc');
      return { lines, loss: ctx.tracker.series('train/loss'), icc, weights: await savedWeights(path.join(ctx.workDir, 'model')) };
    };
    const eager = await train('eager');
    const compiled = await train('compiled');
    const traced = compiled.lines.filter((l) => l.startsWith('engine'));
    // epoch 0 without the ICC term, epochs 1-2 with it: at least one program of each phase
    expect(traced.length).toBeGreaterThanOrEqual(2);
    for (const l of traced) expect(l).toMatch(/^engine compiled: traced the step for batch \d+x16x16x3 \(\d+ ops\); largest relative difference from the eager step \d/);
    expect(compiled.icc).toHaveLength(2);
    expect(compiled.loss).toHaveLength(eager.loss.length);
    compiled.loss.forEach((l, i) => expect(Math.abs(l - eager.loss[i])).toBeLessThanOrEqual(TOL * Math.abs(eager.loss[i])));
    compiled.icc.forEach((l, i) => expect(Math.abs(l - eager.icc[i])).toBeLessThanOrEqual(TOL * Math.abs(eager.icc[i])));
    expect([...compiled.weights.keys()].sort()).toEqual([...eager.weights.keys()].sort());
    expect([...eager.weights].filter(([k, w]) => !(relDiff(compiled.weights.get(k)!, w) <= TOL)).map(([k]) => k)).toEqual([]);
  }, 180_000);

  const native = bf16Unsupported(cpuFlags()) === null && process.env.TF_ENABLE_ONEDNN_OPTS !== '0';
  (native ? it : it.skip)('runs in bf16 in both phases, each program checked against the eager float32 step', () => {
    const [e, c] = [side(OPTS), side(OPTS)];
    const runner = new CompiledStep({ precision: 'bf16', onFallback: (why) => { throw new Error(why); } });
    const checks = new Set<Record<string, { relative: number }>>();
    const r = runBoth(e, c, runner, 12, (s) => {
      if (runner.lastBf16Check && runner.precision === 'bf16') checks.add(runner.lastBf16Check);
      return { ...full[s % 3], epoch: s < 5 ? 0 : 1, lr: 0.02 };
    });
    expect(runner.traces).toBe(2);
    expect(runner.precision).toBe('bf16');
    expect(checks.size).toBe(2); // one check per program, each passed
    for (const x of checks) expect(x.loss.relative).toBeLessThanOrEqual(BF16_CHECK_TOLERANCE);
    // bf16 rounding only: the losses stay close to float32's over these few steps
    for (const [x, y] of r.losses) expect(Math.abs(x - y)).toBeLessThanOrEqual(0.05 * Math.abs(x));
    runner.dispose();
  }, 60_000);
});
