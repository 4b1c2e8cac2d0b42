import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import { loadTf } from '@iccl/tf-backend';
import { iccLoss } from '../src/loss';

const tf = loadTf('cpu');
const PYTHON = path.resolve(__dirname, '../../../.venv/bin/python');
const REFERENCE = path.join(__dirname, 'reference/icc_reference.py');

interface Case {
  z: number[][];
  C: number[][];
  ya: number[];
  yb: number[];
  lam: number[];
  tau: number;
}

/** Loss and dL/dz from our TensorFlow implementation. */
function ours(c: Case): { loss: number; grad: number[][] } {
  const C = tf.tensor2d(c.C);
  const ya = tf.tensor1d(c.ya, 'int32');
  const yb = tf.tensor1d(c.yb, 'int32');
  const lam = tf.tensor1d(c.lam);
  const z = tf.tensor2d(c.z);
  const { value, grad } = tf.valueAndGrad((zz: import('@tensorflow/tfjs-node').Tensor) =>
    iccLoss(zz as import('@tensorflow/tfjs-node').Tensor2D, C, ya, yb, lam, c.tau),
  )(z);
  const out = { loss: value.dataSync()[0], grad: grad.arraySync() as number[][] };
  tf.dispose([C, ya, yb, lam, z, value, grad]);
  return out;
}

/** The float64 numpy reference (its gradient is itself checked by finite differences). */
function reference(cases: Case[]): { loss: number; grad: number[][] }[] {
  const out = execFileSync(PYTHON, [REFERENCE], { input: JSON.stringify(cases), encoding: 'utf8' });
  return JSON.parse(out);
}

function unit(v: number[]): number[] {
  const n = Math.hypot(...v);
  return v.map((x) => x / n);
}

function pseudo(n: number, seed: number): number[] {
  let s = seed;
  return Array.from({ length: n }, () => {
    s = (s * 16807) % 2147483647;
    return s / 2147483647 - 0.5;
  });
}

describe('ICC loss', () => {
  it('hand-worked case: one sample halfway between two orthogonal centroids', () => {
    // s = [1, 0]; logp = [1 - log(1+e), -log(1+e)]; L = -(0.5 logp0 + 0.5 logp1) = log(1+e) - 0.5.
    // dL/dz = (softmax(s) - [0.5, 0.5]) C = [e/(1+e) - 0.5, 1/(1+e) - 0.5].
    const r = ours({ z: [[1, 0]], C: [[1, 0], [0, 1]], ya: [0], yb: [1], lam: [0.5], tau: 1 });
    const e = Math.E;
    expect(r.loss).toBeCloseTo(Math.log(1 + e) - 0.5, 6);
    expect(r.grad[0][0]).toBeCloseTo(e / (1 + e) - 0.5, 6);
    expect(r.grad[0][1]).toBeCloseTo(1 / (1 + e) - 0.5, 6);
  });

  it('matches the float64 reference, loss and gradient, with lam at 0 and 1, equal labels, an absent class and huge logits', () => {
    const K = 5;
    const d = 3;
    const C = Array.from({ length: K }, (_, k) => unit(pseudo(d, 100 + k)));
    const z = Array.from({ length: 6 }, (_, i) => unit(pseudo(d, 200 + i)));
    const cases: Case[] = [
      // class 4 appears in neither ya nor yb; lam 0 and 1 at rows 0 and 1; row 2 has ya = yb
      { z, C, ya: [0, 1, 2, 3, 0, 1], yb: [1, 2, 2, 0, 3, 3], lam: [0, 1, 0.3, 0.5, 0.9, 0.123], tau: 0.1 },
      // tau = 1e-3: similarities up to 1000, exp would overflow float32 without the log-sum-exp form
      { z, C, ya: [0, 1, 2, 3, 0, 1], yb: [1, 2, 2, 0, 3, 3], lam: [0.2, 0.8, 0.5, 0.5, 1, 0], tau: 1e-3 },
      // unnormalised z and large centroids: the loss is defined for any inputs
      { z: z.map((r) => r.map((v) => v * 40)), C: C.map((r) => r.map((v) => v * 3)), ya: [4, 4, 0, 1, 2, 3], yb: [4, 0, 0, 2, 1, 3], lam: [0.5, 0.7, 0.1, 0.9, 0.4, 0.6], tau: 0.05 },
    ];
    const ref = reference(cases);
    cases.forEach((c, i) => {
      const got = ours(c);
      expect(Number.isFinite(got.loss)).toBe(true);
      const tol = Math.max(1e-4, Math.abs(ref[i].loss) * 2e-5);
      expect(Math.abs(got.loss - ref[i].loss)).toBeLessThan(tol);
      const gmax = Math.max(1, ...ref[i].grad.flat().map(Math.abs));
      got.grad.flat().forEach((g, j) => {
        expect(Number.isFinite(g)).toBe(true);
        expect(Math.abs(g - ref[i].grad.flat()[j])).toBeLessThan(2e-4 * gmax);
      });
    });
  });

  it('lam = 1 reduces to the centroid softmax cross-entropy of y_a; equal labels ignore lam', () => {
    const C = [
      [1, 0],
      [0, 1],
      [-1, 0],
    ];
    const z = [[0.6, 0.8]];
    const s = C.map((c) => (c[0] * z[0][0] + c[1] * z[0][1]) / 0.5);
    const lse = Math.log(s.reduce((a, v) => a + Math.exp(v), 0));
    const a = ours({ z, C, ya: [1], yb: [2], lam: [1], tau: 0.5 });
    expect(a.loss).toBeCloseTo(lse - s[1], 5);
    const b = ours({ z, C, ya: [0], yb: [0], lam: [0.37], tau: 0.5 });
    expect(b.loss).toBeCloseTo(lse - s[0], 5);
  });
});
