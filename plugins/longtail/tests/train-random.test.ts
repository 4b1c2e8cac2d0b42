import { loadTf } from '@iccl/tf-backend';
import { Rng, interpolate, objectiveValue, sampleLambdas, seedFrom } from '../src/train';

const tf = loadTf('cpu');

function moments(xs: Float32Array | number[]): { mean: number; variance: number } {
  let m = 0;
  for (const x of xs) m += x / xs.length;
  let v = 0;
  for (const x of xs) v += (x - m) ** 2 / (xs.length - 1);
  return { mean: m, variance: v };
}

describe('Beta sampler', () => {
  // Beta(a, b): mean a / (a + b), variance ab / ((a + b)^2 (a + b + 1)).
  it.each([
    [0.2, 0.2],
    [1, 1],
    [2, 2],
    [2, 5],
    [0.5, 3],
  ])('Beta(%p, %p) has the textbook mean and variance (40k draws)', (a, b) => {
    const rng = new Rng(seedFrom(a * 10, b * 10));
    const xs = Array.from({ length: 40000 }, () => rng.beta(a, b));
    const { mean, variance } = moments(xs);
    const m = a / (a + b);
    const v = (a * b) / ((a + b) ** 2 * (a + b + 1));
    // Standard error of the mean is sqrt(v / n) < 0.0025; of the variance well under 0.003.
    expect(Math.abs(mean - m)).toBeLessThan(0.01);
    expect(Math.abs(variance - v)).toBeLessThan(0.006);
    expect(xs.every((x) => x >= 0 && x <= 1)).toBe(true);
  });

  it('per-sample lambdas vary, per-batch lambdas are one value, alpha = 0 means no mixing', () => {
    const per = sampleLambdas(new Rng(1), 64, 1, false);
    expect(new Set(per).size).toBeGreaterThan(60);
    const batch = sampleLambdas(new Rng(1), 64, 1, true);
    expect(new Set(batch).size).toBe(1);
    expect(Array.from(sampleLambdas(new Rng(1), 5, 0))).toEqual([1, 1, 1, 1, 1]);
  });

  it('the generator state restores the stream exactly (resume)', () => {
    const a = new Rng(42);
    a.next();
    a.beta(0.3, 0.3);
    const saved = a.state;
    const next = [a.next(), a.beta(2, 2)];
    const b = new Rng(saved);
    expect([b.next(), b.beta(2, 2)]).toEqual(next);
    expect(seedFrom(1, 2)).not.toBe(seedFrom(2, 1));
  });
});

describe('interpolation', () => {
  it('x~ = lam xa + (1 - lam) xb per sample', () => {
    const xa = tf.tensor4d([1, 2, 3, 4], [2, 1, 1, 2]);
    const xb = tf.tensor4d([5, 6, 7, 8], [2, 1, 1, 2]);
    const lam = tf.tensor1d([0.25, 1]);
    const x = interpolate(xa, xb, lam);
    // row 0: .25[1,2] + .75[5,6] = [4, 5]; row 1: lam = 1 keeps xa
    expect(Array.from(x.dataSync())).toEqual([4, 5, 3, 4]);
    tf.dispose([xa, xb, lam, x]);
  });
});

describe('objective', () => {
  it('top1, few, or a blend; few falls back to top1 when no class is few-shot', () => {
    expect(objectiveValue({ top1: 0.6, few: 0.2 }, 'top1', 0.5)).toBe(0.6);
    expect(objectiveValue({ top1: 0.6, few: 0.2 }, 'few', 0.5)).toBe(0.2);
    expect(objectiveValue({ top1: 0.6, few: 0.2 }, 'blend', 0.25)).toBeCloseTo(0.5, 12);
    expect(objectiveValue({ top1: 0.6, few: NaN }, 'few', 0.5)).toBe(0.6);
  });
});
