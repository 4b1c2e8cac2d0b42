import { loadTf } from '@iccl/tf-backend';
import { validateParams } from '@iccl/trainer-api';
import { testContext, TINY } from '../../longtail/tests/train-helpers';
import { plugins } from '../src';

loadTf('cpu');
// Real (small) training runs on a shared 2-core machine.
jest.setTimeout(180_000);

describe('baselines learn the synthetic set (native backend)', () => {
  it('cross-entropy: loss falls and top-1 is well above chance (0.25) after 8 epochs', async () => {
    const ctx = testContext();
    const r = await plugins.ce.train(validateParams(plugins.ce.params, { ...TINY, epochs: 8, evalEvery: 4 }), ctx);
    const loss = ctx.tracker.series('train/loss');
    expect(loss).toHaveLength(8);
    expect(loss[7]).toBeLessThan(loss[0] * 0.8);
    expect(r.metrics.top1).toBeGreaterThan(0.45);
    expect(ctx.tracker.series('train/loss_mix')).toEqual([]);
  });

  it('mixup: the interpolated loss falls over a few epochs', async () => {
    const ctx = testContext();
    await plugins.mixup.train(validateParams(plugins.mixup.params, { ...TINY, epochs: 4, evalEvery: 4 }), ctx);
    const mix = ctx.tracker.series('train/loss_mix');
    expect(mix).toHaveLength(4);
    expect(mix[3]).toBeLessThan(mix[0]);
    expect(ctx.tracker.params.alpha).toBe(1);
  });
});
