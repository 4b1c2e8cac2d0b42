import { loadTf } from '@iccl/tf-backend';
import { VariableStore } from '@iccl/longtail';
import { CentroidBank } from '../src/centroids';

const tf = loadTf('cpu');

describe('centroid bank', () => {
  it('EMA: c_y <- normalize(m c_y + (1 - m) z_i), per sample in order (hand-computed)', () => {
    const store = new VariableStore();
    const bank = new CentroidBank(store, 2, 2, 1);
    bank.values.set([1, 0, 0, 1]);
    // Two samples of class 0 at [0, 1], one of class 1 at [1, 0], m = 0.5.
    bank.update(new Float32Array([0, 1, 0, 1, 1, 0]), new Int32Array([0, 0, 1]), 0.5);
    // c0: normalize(.5[1,0] + .5[0,1]) = [.70711, .70711]; then normalize(.5[.70711,.70711] + .5[0,1])
    //   = normalize([.35355, .85355]) = [.38268, .92388]. c1: normalize(.5[0,1] + .5[1,0]) = [.70711, .70711].
    const expected = [0.382683, 0.92388, 0.707107, 0.707107];
    Array.from(bank.values).forEach((v, i) => expect(v).toBeCloseTo(expected[i], 5));
    // The device copy the loss reads is the same.
    Array.from(bank.tensor.dataSync()).forEach((v, i) => expect(v).toBeCloseTo(expected[i], 5));
    store.dispose();
  });

  it('m = 1 leaves centroids unchanged; m = 0 replaces them with the (normalised) sample', () => {
    const store = new VariableStore();
    const bank = new CentroidBank(store, 1, 2, 1);
    bank.values.set([0.6, 0.8]);
    bank.update(new Float32Array([3, 0]), new Int32Array([0]), 1);
    expect(Array.from(bank.values)).toEqual([0.6, 0.8].map(Math.fround));
    bank.update(new Float32Array([3, 4]), new Int32Array([0]), 0);
    expect(bank.values[0]).toBeCloseTo(0.6, 6);
    expect(bank.values[1]).toBeCloseTo(0.8, 6);
    store.dispose();
  });

  it('warm-up: exact normalised class means; a class never seen keeps its vector; disposal frees the variable', () => {
    const tensorsBefore = tf.memory().numTensors;
    const store = new VariableStore();
    const bank = new CentroidBank(store, 3, 2, 5);
    const before = Array.from(bank.values.subarray(4, 6));
    expect(Math.hypot(...before)).toBeCloseTo(1, 5);
    bank.beginMeans();
    bank.accumulate(new Float32Array([1, 0, 0, 1]), new Int32Array([0, 0]));
    bank.accumulate(new Float32Array([2, 0, 0, -3]), new Int32Array([1, 1]));
    expect(bank.finishMeans()).toBe(2);
    // class 0: mean [.5, .5] -> [.70711, .70711]; class 1: mean [1, -1.5] -> [.5547, -.83205]
    const v = Array.from(bank.values);
    [0.707107, 0.707107, 0.5547, -0.83205].forEach((e, i) => expect(v[i]).toBeCloseTo(e, 4));
    expect(v.slice(4)).toEqual(before);
    expect(bank.accumulating).toBe(false);
    store.dispose();
    expect(tf.memory().numTensors).toBe(tensorsBefore);
  });
});
