// The trainer's `engine` parameter end to end: the same cross-entropy run (synthetic set, small CNN,
// 3 epochs with evaluations, a last smaller batch in each epoch) on the eager and on the compiled
// step ends with the same weights, running statistics and losses, to 1e-5 of each tensor's largest
// magnitude (float32 round-off of reordered sums; see plugins/longtail/tests/compiled-step.test.ts).
// mixup cannot be compiled (its loss draws values in JavaScript): it runs eagerly and says so once.
import * as path from 'node:path';
import { validateParams } from '@iccl/trainer-api';
import { savedWeights, testContext, TINY } from '../../longtail/tests/train-helpers';
import { plugins } from '../src';

jest.setTimeout(180_000);
const RUN = { ...TINY, epochs: 3, maxStepsPerEpoch: 4 };

function relDiff(a: Float32Array, b: Float32Array): number {
  let scale = 0;
  let m = 0;
  for (let i = 0; i < b.length; i++) {
    scale = Math.max(scale, Math.abs(b[i]));
    m = Math.max(m, Math.abs(a[i] - b[i]));
  }
  return m / Math.max(scale, 1e-30);
}

async function train(engine: string) {
  const base = testContext();
  const lines: string[] = [];
  const ctx = { ...base, log: { ...base.log, info: (m: string) => void lines.push(m) } };
  const r = await plugins.ce.train(validateParams(plugins.ce.params, { ...RUN, engine }), ctx);
  const losses = ctx.tracker.metrics.flatMap((m) => (m.metrics['train/loss'] === undefined ? [] : [m.metrics['train/loss']]));
  return { r, losses, lines, weights: await savedWeights(path.join(ctx.workDir, 'model')) };
}

describe('engine parameter', () => {
  it('defaults to compiled', () => {
    expect(plugins.ce.params.engine.default).toBe('compiled');
    expect(plugins.ce.params.engine.choices).toEqual(['eager', 'compiled']);
  });

  it('compiled and eager runs of cross-entropy end with the same weights and losses', async () => {
    const eager = await train('eager');
    const compiled = await train('compiled');
    // every batch shape traced once and checked (full batches, then each epoch's last, smaller one)
    const traced = compiled.lines.filter((l) => l.startsWith('engine'));
    expect(traced.length).toBeGreaterThanOrEqual(1);
    for (const l of traced) expect(l).toMatch(/^engine compiled: traced the step for batch \d+x16x16x3 \(\d+ ops\); largest relative difference from the eager step \d/);
    expect(compiled.losses).toHaveLength(3);
    compiled.losses.forEach((l, i) => expect(Math.abs(l - eager.losses[i]) / Math.abs(eager.losses[i])).toBeLessThanOrEqual(1e-5));
    expect([...compiled.weights.keys()].sort()).toEqual([...eager.weights.keys()].sort());
    const over = [...eager.weights].filter(([k, w]) => !(relDiff(compiled.weights.get(k)!, w) <= 1e-5)).map(([k]) => k);
    expect(over).toEqual([]);
    expect(compiled.r.metrics.top1).toBeCloseTo(eager.r.metrics.top1, 6);
  });

  it('mixup under engine compiled runs eagerly, with one line saying why', async () => {
    const base = testContext();
    const lines: string[] = [];
    const ctx = { ...base, log: { ...base.log, info: (m: string) => void lines.push(m) } };
    await plugins.mixup.train(validateParams(plugins.mixup.params, { ...RUN, epochs: 1, engine: 'compiled' }), ctx);
    expect(lines.filter((l) => l.startsWith('engine'))).toEqual(['engine compiled: unavailable for method mixup: its loss draws per-step values in JavaScript or changes with the epoch, which a traced graph would freeze; running the eager step']);
  });
});
