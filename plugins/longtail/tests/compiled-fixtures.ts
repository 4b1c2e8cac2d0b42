// Shared by the compiled-step tests: a plain cross-entropy method, seeded batches of K classes, and
// the comparison of the eager and the compiled engine step by step (also used by the iccl and
// baselines tests of their methods).
import { loadTf } from '@iccl/tf-backend';
import { crossEntropy, type Network, type SgdMomentum } from '../src/models';
import type { NamedVariable } from '../src/models/store';
import type { Tensor1D, Tensor4D } from '../src/models/tf';
import type { CompiledStep } from '../src/train/compiled/runner';
import type { DeviceBatch, Stage1Method } from '../src/train/method';
import { Rng } from '../src/train/random';
import { stage1Step } from '../src/train/step';
import { values } from './fixed-values';

export const K = 5;

export const ce: Stage1Method = {
  name: 'ce',
  primarySampler: 'instance',
  secondSampler: null,
  store: null,
  loss: (net, a, _b, pass) => {
    const l = crossEntropy(net.logits(a.x, pass), a.y, net.numClasses);
    return { total: l, terms: { ce: l } };
  },
  dispose: () => {},
};

/** n images of side x side x 3 from fixed values, labels cycling through the K classes. */
export function batch(n: number, side: number, seed: number): DeviceBatch {
  const tf = loadTf('cpu');
  const labels = Int32Array.from({ length: n }, (_, i) => (i * 3 + seed) % K);
  return { x: tf.tensor4d(values(n * side * side * 3, seed), [n, side, side, 3]) as Tensor4D, y: tf.tensor1d(labels, 'int32') as Tensor1D, labels, n };
}

/** Largest |a - b| over the tensor, divided by the largest |b| (each tensor's own scale). */
export function relDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let scale = 0;
  for (let i = 0; i < b.length; i++) scale = Math.max(scale, Math.abs(b[i]));
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m / Math.max(scale, 1e-30);
}

/** One engine's side of a comparison: its network, method, optimiser and every variable of the step. */
export interface Side {
  net: Network;
  method: Stage1Method;
  opt: SgdMomentum;
  vars: NamedVariable[];
}

/** Values of every variable and momentum buffer of `s`, plus `extra` (a method's host state). */
export function snapshotOf(s: Side, extra: Record<string, Float32Array> = {}): Map<string, Float32Array> {
  const m = new Map(s.vars.map((v) => [v.name, v.variable.dataSync() as Float32Array]));
  for (const o of s.opt.state()) m.set(o.name, o.tensor.dataSync() as Float32Array);
  for (const [k, v] of Object.entries(extra)) m.set(k, v.slice());
  return m;
}

export interface EngineRun {
  /** per step: [eager loss, compiled loss] and each term's pair */
  losses: [number, number][];
  terms: Record<string, [number, number]>[];
}

/**
 * `steps` steps of each engine from the same start: eager on `eager`, compiled on `compiled`, the
 * same batches and learning rates, each side drawing from its own Rng of the same seed (the
 * methods' draws agree only if both sides draw the same values in the same order).
 */
export function runBoth(eager: Side, compiled: Side, runner: CompiledStep, steps: number, at: (s: number) => { a: DeviceBatch; b: DeviceBatch | null; epoch: number; lr: number }): EngineRun {
  const rngs = [new Rng(11), new Rng(11)];
  const out: EngineRun = { losses: [], terms: [] };
  for (let s = 0; s < steps; s++) {
    const { a, b, epoch, lr } = at(s);
    const e = stage1Step(eager.net, eager.method, eager.opt, eager.vars, a, b, { epoch, step: s, rng: rngs[0] }, lr);
    const c = runner.step(compiled.net, compiled.method, compiled.opt, compiled.vars, a, b, { epoch, step: s, rng: rngs[1] }, lr);
    if (!e.finite || !c.finite) throw new Error(`step ${s}: non-finite loss`);
    out.losses.push([e.loss, c.loss]);
    out.terms.push(Object.fromEntries(Object.keys(e.terms).map((k) => [k, [e.terms[k], c.terms[k]]])));
  }
  return out;
}
