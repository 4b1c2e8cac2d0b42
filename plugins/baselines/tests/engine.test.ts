// The trainer's `engine` parameter end to end: the same cross-entropy run (synthetic set, small CNN,
// 3 epochs with evaluations, a last smaller batch in each epoch) on the eager and on the compiled
// step ends with the same weights, running statistics and losses, to 1e-5 of each tensor's largest
// magnitude (float32 round-off of reordered sums; see plugins/longtail/tests/compiled-step.test.ts).
// mixup runs compiled too (its permutation and lambdas are fed to the graph each step) and ends
// as its eager run does.
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

async function train(engine: string, method: 'ce' | 'mixup' = 'ce', run: Record<string, unknown> = RUN) {
  const base = testContext();
  const lines: string[] = [];
  const ctx = { ...base, log: { ...base.log, info: (m: string) => void lines.push(m) } };
  // one signature for both (mixup's parameters are cross-entropy's plus its own, defaulted)
  const plugin = plugins[method] as unknown as typeof plugins.ce;
  const r = await plugin.train(validateParams(plugin.params, { ...run, engine }), ctx);
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

  it('mixup under engine compiled runs its compiled step and ends with the eager run\'s weights', async () => {
    const run = { ...RUN, epochs: 1 };
    const eager = await train('eager', 'mixup', run);
    const compiled = await train('compiled', 'mixup', run);
    const traced = compiled.lines.filter((l) => l.startsWith('engine'));
    expect(traced.length).toBeGreaterThanOrEqual(1);
    for (const l of traced) expect(l).toMatch(/^engine compiled: traced the step for batch \d+x16x16x3 \(\d+ ops\); largest relative difference from the eager step \d/);
    compiled.losses.forEach((l, i) => expect(Math.abs(l - eager.losses[i]) / Math.abs(eager.losses[i])).toBeLessThanOrEqual(1e-5));
    const over = [...eager.weights].filter(([k, w]) => !(relDiff(compiled.weights.get(k)!, w) <= 1e-5)).map(([k]) => k);
    expect(over).toEqual([]);
  });
});
