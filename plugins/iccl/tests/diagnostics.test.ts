import { validateParams } from '@iccl/trainer-api';
import { testContext, TINY } from '../../longtail/tests/train-helpers';
import { IccDiagnostics, centroidShift, iccFloorSum, plugin, retrievalHits } from '../src';

// K = 3 centroids in 2-D: c0 = (1, 0), c1 = (0, 1), c2 = (-1, 0).
const C = Float32Array.from([1, 0, 0, 1, -1, 0]);
// Dot products worked by hand, nearest first:
//   z0 ( .8, .6): c0 .8, c1 .6, c2 -.8 -> {0, 1}; sources 0, 1          -> hit
//   z1 ( .6, .8): c1 .8, c0 .6, c2 -.6 -> {1, 0}; sources 1, 2          -> miss
//   z2 (-.6, .8): c1 .8, c2 .6, c0 -.6 -> nearest 1; sources 2, 2 (same) -> miss
//   z3 (-.8, .6): c2 .8, c1 .6, c0 -.8 -> nearest 2; sources 2, 2 (same) -> hit
//   z4 (-.8,-.6): c2 .8, c1 -.6, c0 -.8 -> {2, 1}; sources 1, 2 (order swapped) -> hit
const Z = Float32Array.from([0.8, 0.6, 0.6, 0.8, -0.6, 0.8, -0.8, 0.6, -0.8, -0.6]);
const YA = [0, 1, 2, 2, 1];
const YB = [1, 2, 2, 2, 2];

describe('ICC diagnostics', () => {
  it('retrieval: a hit when the two nearest centroids are the two source classes (one class: the nearest)', () => {
    expect(retrievalHits(Z, C, 2, YA, YB)).toBe(3);
    expect(retrievalHits(Z.subarray(0, 2), C, 2, [0], [1])).toBe(1);
    expect(retrievalHits(Z.subarray(0, 2), C, 2, [0], [2])).toBe(0);
    expect(retrievalHits(Z.subarray(0, 2), C, 2, [1], [1])).toBe(0);
  });

  it('retrieval rejects mismatched shapes with one line', () => {
    expect(() => retrievalHits(Z, C, 2, YA, [1, 2])).toThrow(/yb has 2 labels: expected 5/);
    expect(() => retrievalHits(Z, C, 4, YA, YB)).toThrow(/centroids have 6 values: expected K x 4/);
    expect(() => retrievalHits(Z.subarray(0, 4), C, 2, YA, YB)).toThrow(/z has 4 values: expected 5 x 2/);
  });

  it('centroid shift: mean over classes of the distance moved', () => {
    const before = Float32Array.from([1, 0, 0, 1]);
    const after = Float32Array.from([0, 1, 0, 1]);
    expect(centroidShift(before, after, 2)).toBeCloseTo(Math.SQRT2 / 2, 6);
    expect(centroidShift(before, before, 2)).toBe(0);
    expect(() => centroidShift(before, Float32Array.from([1, 0]), 2)).toThrow(/equal multiples of 2/);
  });

  it('ICC loss floor: the entropy of the soft targets; 0 when both sources share a class', () => {
    // lam 0.5 -> ln 2; lam 0.25 -> -(0.25 ln 0.25 + 0.75 ln 0.75) = 0.562335; lam 1 -> 0; same class -> 0
    expect(iccFloorSum([0.5], [0], [1])).toBeCloseTo(Math.LN2, 12);
    expect(iccFloorSum([0.25, 1, 0.5], [0, 1, 2], [1, 2, 2])).toBeCloseTo(0.5623351446, 9);
  });

  it('per-epoch metrics: retrieval rate, shift since the snapshot, ICC loss over log K; reset after each epoch', () => {
    const d = new IccDiagnostics(3);
    d.snapshot(C);
    d.addBatch(Z.subarray(0, 4), C, 2, [0, 1], [1, 2], [0.5, 0.5]);
    d.addBatch(Z.subarray(4), C, 2, [2, 2, 1], [2, 2, 2], [0.5, 0.5, 0.5]);
    const moved = Float32Array.from([0, 1, 0, 1, -1, 0]);
    const m = d.finish(moved, 2, 0.5 * Math.log(3));
    expect(m['train/icc_retrieval']).toBeCloseTo(3 / 5, 9);
    expect(m['train/centroid_shift']).toBeCloseTo(Math.SQRT2 / 3, 6);
    expect(m['train/loss_icc_over_logk']).toBeCloseTo(0.5, 9);
    // three of the five pairs have two classes, each lam 0.5: 3 ln 2 / 5
    expect(m['train/loss_icc_floor']).toBeCloseTo((3 * Math.LN2) / 5, 9);
    expect(d.finish(moved, 2, undefined)).toEqual({});
  });
});

describe('ICC diagnostics in a training run (native backend)', () => {
  jest.setTimeout(180_000);
  it.each(['ema', 'epoch-means'])('logs them once per epoch after the warm-up (centroidUpdate %s)', async (centroidUpdate) => {
    const ctx = testContext();
    const p = validateParams(plugin.params, { ...TINY, epochs: 3, crtEpochs: 0, maxStepsPerEpoch: 3, centroidUpdate });
    await plugin.train(p, ctx);
    const r = ctx.tracker.series('train/icc_retrieval');
    const shift = ctx.tracker.series('train/centroid_shift');
    const ratio = ctx.tracker.series('train/loss_icc_over_logk');
    const icc = ctx.tracker.series('train/loss_icc');
    // 1 warm-up epoch without the ICC loss, then 2 epochs with it.
    expect(r).toHaveLength(2);
    for (const v of r) expect(v).toBeGreaterThanOrEqual(0);
    for (const v of r) expect(v).toBeLessThanOrEqual(1);
    expect(shift).toHaveLength(2);
    for (const v of shift) expect(v).toBeGreaterThan(0);
    expect(ratio[1]).toBeCloseTo(icc[1] / Math.log(p.syntheticClasses), 6);
    // the loss never goes below the entropy floor of its soft targets
    const floor = ctx.tracker.series('train/loss_icc_floor');
    expect(floor).toHaveLength(2);
    for (let i = 0; i < 2; i++) expect(icc[i]).toBeGreaterThanOrEqual(floor[i] - 1e-6);
    expect(ctx.tracker.params.centroidUpdate).toBe(centroidUpdate);
  });
});
