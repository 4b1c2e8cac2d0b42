import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { NullTracker, silentLogger, TrialFailed, TrialPruned, validateParams, type TrialContext } from '@iccl/trainer-api';
import { plugin, toyLoss } from '../src';

function ctx(report: TrialContext['report'] = async () => {}): TrialContext {
  return {
    trialId: 't0',
    workDir: fs.mkdtempSync(path.join(os.tmpdir(), 'toy-')),
    signal: new AbortController().signal,
    report,
    tracker: new NullTracker(),
    log: silentLogger,
  };
}

describe('toy plugin', () => {
  it('has its optimum at (1, -2) with value 0', () => {
    expect(toyLoss(1, -2)).toBe(0);
    expect(toyLoss(0, 0)).toBe(5); // 1 + 4, by hand
  });

  it('reports a decaying curve that ends at target + 10 * 2^-epochs without noise', async () => {
    const seen: Array<[number, number]> = [];
    const params = validateParams(plugin.params, { x: 0, y: 0, epochs: 3 });
    const r = await plugin.train(params, ctx(async (s, m) => void seen.push([s, m.loss])));
    expect(seen).toEqual([
      [1, 10],
      [2, 7.5],
      [3, 6.25],
    ]);
    expect(r.objective).toBe(6.25);
  });

  it('stops with the pruner exception when report throws it', async () => {
    const params = validateParams(plugin.params, { epochs: 5 });
    const p = plugin.train(params, ctx(async (s) => {
      if (s === 2) throw new TrialPruned(2, 1);
    }));
    await expect(p).rejects.toBeInstanceOf(TrialPruned);
  });

  it('fails with the epoch in the reason when asked for NaN', async () => {
    const params = validateParams(plugin.params, { epochs: 5, nanAtEpoch: 3 });
    await expect(plugin.train(params, ctx())).rejects.toThrow(new TrialFailed('non-finite loss at epoch 3'));
  });
});
