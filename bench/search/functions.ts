/** Benchmark objectives (the same formulas as functions.py, checked against each other at start). */
import type { Trial } from '../../search/src';

export interface BenchFunction {
  name: string;
  /** Known global minimum (for the regret column). */
  optimum: number;
  objective: (t: Trial) => Promise<number>;
  /** The same function on plain parameters, for the cross-language check. */
  evaluate: (p: Record<string, number | string>) => number;
}

const floats = async (t: Trial, names: string[], low: number, high: number): Promise<number[]> => {
  const out: number[] = [];
  for (const n of names) out.push(await t.suggestFloat(n, low, high));
  return out;
};

function branin(x1: number, x2: number): number {
  const b = 5.1 / (4 * Math.PI ** 2);
  const c = 5 / Math.PI;
  const t = 1 / (8 * Math.PI);
  return (x2 - b * x1 * x1 + c * x1 - 6) ** 2 + 10 * (1 - t) * Math.cos(x1) + 10;
}

const H_ALPHA = [1.0, 1.2, 3.0, 3.2];
const H_A = [
  [10, 3, 17, 3.5, 1.7, 8],
  [0.05, 10, 17, 0.1, 8, 14],
  [3, 3.5, 1.7, 10, 17, 8],
  [17, 8, 0.05, 10, 0.1, 14],
];
const H_P = [
  [1312, 1696, 5569, 124, 8283, 5886],
  [2329, 4135, 8307, 3736, 1004, 9991],
  [2348, 1451, 3522, 2883, 3047, 6650],
  [4047, 8828, 8732, 5743, 1091, 381],
].map((r) => r.map((v) => v * 1e-4));

function hartmann6(x: number[]): number {
  let s = 0;
  for (let i = 0; i < 4; i++) {
    let e = 0;
    for (let j = 0; j < 6; j++) e += H_A[i][j] * (x[j] - H_P[i][j]) ** 2;
    s += H_ALPHA[i] * Math.exp(-e);
  }
  return -s;
}

function rosenbrock(x: number[]): number {
  let s = 0;
  for (let i = 0; i < x.length - 1; i++) s += 100 * (x[i + 1] - x[i] ** 2) ** 2 + (1 - x[i]) ** 2;
  return s;
}

function ackley(x: number[]): number {
  const d = x.length;
  const s1 = x.reduce((a, v) => a + v * v, 0) / d;
  const s2 = x.reduce((a, v) => a + Math.cos(2 * Math.PI * v), 0) / d;
  return -20 * Math.exp(-0.2 * Math.sqrt(s1)) - Math.exp(s2) + 20 + Math.E;
}

/** A hyperparameter-shaped loss: log-scale rates, a log-int batch size, a stepped dropout, an optimizer choice. */
const OPT_LR: Record<string, number> = { sgd: -1.5, adam: -3.0, adamw: -2.7 };
const OPT_PEN: Record<string, number> = { sgd: 0.3, adam: 0.1, adamw: 0 };
function hpLoss(p: Record<string, number | string>): number {
  const opt = p.optimizer as string;
  return (
    (Math.log10(p.lr as number) - OPT_LR[opt]) ** 2 +
    0.5 * (Math.log10(p.weight_decay as number) + 4) ** 2 +
    0.075 * (Math.log2(p.batch_size as number) - 7) ** 2 +
    4 * ((p.dropout as number) - 0.2) ** 2 +
    0.2 * ((p.layers as number) - 3) ** 2 +
    OPT_PEN[opt]
  );
}

const X6 = ['x0', 'x1', 'x2', 'x3', 'x4', 'x5'];

export const FUNCTIONS: BenchFunction[] = [
  {
    name: 'branin',
    optimum: 0.397887,
    objective: async (t) => branin(await t.suggestFloat('x0', -5, 10), await t.suggestFloat('x1', 0, 15)),
    evaluate: (p) => branin(p.x0 as number, p.x1 as number),
  },
  {
    name: 'hartmann6',
    optimum: -3.32237,
    objective: async (t) => hartmann6(await floats(t, X6, 0, 1)),
    evaluate: (p) => hartmann6(X6.map((k) => p[k] as number)),
  },
  {
    name: 'rosenbrock4',
    optimum: 0,
    objective: async (t) => rosenbrock(await floats(t, X6.slice(0, 4), -5, 10)),
    evaluate: (p) => rosenbrock(X6.slice(0, 4).map((k) => p[k] as number)),
  },
  {
    name: 'ackley5',
    optimum: 0,
    objective: async (t) => ackley(await floats(t, X6.slice(0, 5), -32.768, 32.768)),
    evaluate: (p) => ackley(X6.slice(0, 5).map((k) => p[k] as number)),
  },
  {
    name: 'hp-mixed',
    optimum: 0,
    objective: async (t) =>
      hpLoss({
        lr: await t.suggestFloat('lr', 1e-5, 1e-1, { log: true }),
        weight_decay: await t.suggestFloat('weight_decay', 1e-6, 1e-2, { log: true }),
        batch_size: await t.suggestInt('batch_size', 16, 512, { log: true }),
        dropout: await t.suggestFloat('dropout', 0, 0.5, { step: 0.05 }),
        layers: await t.suggestInt('layers', 1, 6),
        optimizer: await t.suggestCategorical('optimizer', ['sgd', 'adam', 'adamw']),
      }),
    evaluate: hpLoss,
  },
];
