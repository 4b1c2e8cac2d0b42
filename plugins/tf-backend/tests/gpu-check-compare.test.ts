import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { compareSteps, readStepValues, writeStepValues, type StepValues } from '../src';

/** A reference step: a 3x2 kernel gradient with norm exactly 5 (3-4-0 ...), a bias gradient, a zero one. */
function ref(): StepValues {
  return {
    backend: 'ref',
    loss: 2.5,
    grads: [
      { name: 'k', shape: [3, 2], values: Float32Array.from([3, 0, 0, 4, 0, 0]) },
      { name: 'b', shape: [2], values: Float32Array.from([1, -1]) },
      { name: 'z', shape: [4], values: new Float32Array(4) },
    ],
  };
}

function withGrad(name: string, values: number[]): StepValues {
  const r = ref();
  return { ...r, backend: 'got', grads: r.grads.map((g) => (g.name === name ? { ...g, values: Float32Array.from(values) } : g)) };
}

describe('compareSteps (gpu-check against the CPU)', () => {
  it('agrees with itself', () => {
    const c = compareSteps(ref(), ref());
    expect(c).toEqual({ ok: true, lossDiff: 0, worst: { name: 'k', relDiff: 0 }, problems: [] });
  });

  it('accepts a gradient within the relative tolerance and fails one beyond it', () => {
    // ||(0.004, 0, ...)|| / ||k|| = 0.004 / 5 = 8e-4 < 1e-3
    const near = compareSteps(ref(), withGrad('k', [3.004, 0, 0, 4, 0, 0]));
    expect(near.ok).toBe(true);
    expect(near.worst!.name).toBe('k');
    expect(near.worst!.relDiff).toBeCloseTo(8e-4, 6);
    // 0.006 / 5 = 1.2e-3 > 1e-3
    const far = compareSteps(ref(), withGrad('k', [3, 0, 0, 4.006, 0, 0]));
    expect(far.ok).toBe(false);
    expect(far.problems).toEqual(['gradient k: differs by 1.20e-3 of its norm 5.00e+0']);
  });

  it('judges a zero gradient by the absolute floor', () => {
    expect(compareSteps(ref(), withGrad('z', [1e-7, -1e-7, 0, 0])).ok).toBe(true); // 1.4e-7 <= 1e-6 * sqrt(4)
    expect(compareSteps(ref(), withGrad('z', [1e-5, 0, 0, 0])).problems).toEqual(['gradient z: is zero in the reference, off by 1.00e-5']);
  });

  it('fails on the loss, on non-finite values, on shapes and on missing or extra tensors', () => {
    expect(compareSteps(ref(), { ...ref(), loss: 2.5 + 1e-3 }).problems).toEqual(['loss 2.501 vs 2.5: differs by 1.00e-3']);
    expect(compareSteps(ref(), { ...ref(), loss: 2.5 + 1e-4 }).ok).toBe(true); // 1e-4 <= 1e-4 * 2.5
    expect(compareSteps(ref(), { ...ref(), loss: Number.NaN }).problems).toEqual(['loss is not finite (2.5 vs NaN)']);
    expect(compareSteps(ref(), withGrad('b', [1, Number.NaN])).problems).toEqual(['gradient b: not finite']);
    const r = ref();
    const reshaped = { ...r, grads: [{ ...r.grads[0], shape: [2, 3] }, r.grads[1], { name: 'extra', shape: [1], values: Float32Array.from([0]) }] };
    expect(compareSteps(ref(), reshaped).problems).toEqual(['gradient k: shape [2,3] vs [3,2]', 'gradient z: missing', 'gradient extra: not in the reference']);
  });

  it('writes and reads a step exactly', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iccl-stepvalues-'));
    try {
      const f = path.join(dir, 'step.json');
      writeStepValues(f, ref());
      const back = readStepValues(f);
      expect(back.loss).toBe(2.5);
      expect(back.grads.map((g) => [g.name, g.shape, [...g.values]])).toEqual(ref().grads.map((g) => [g.name, g.shape, [...g.values]]));
      fs.appendFileSync(`${f}.bin`, Buffer.alloc(4));
      expect(() => readStepValues(f)).toThrow('step.json.bin holds 13 values, the header names 12');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
